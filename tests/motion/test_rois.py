"""rois.csv validation: fractions inside the picture, caregiver and child in every session,
overlaps warned, every error naming the line and field."""

import doctest
import io

import pandas as pd
import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.motion import rois
from coding_pipeline.motion.rois import validate_rois

GOOD = """dyad_id,timepoint,role,x,y,w,h
D01,1,caregiver,0.05,0.2,0.4,0.7
D01,1,child,0.55,0.3,0.4,0.6
D01,1,background,0.0,0.0,1.0,0.15
D02,2,Child ,0.5,0,0.5,1
D02,2,caregiver,0,0,0.5,1.0
"""


def read(text):
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def replace_line(line_number, new_line):
    lines = GOOD.splitlines()
    lines[line_number - 1] = new_line
    return read("\n".join(lines) + "\n")


def test_valid_file_gives_records_per_session():
    result = validate_rois(read(GOOD))
    assert result.warnings == []
    sessions = result.by_session()
    assert list(sessions) == [("D01", "1"), ("D02", "2")]
    assert set(sessions[("D01", "1")]) == {"caregiver", "child", "background"}
    child = sessions[("D02", "2")]["child"]
    assert (child.role, child.box, child.line) == ("child", (0.5, 0.0, 0.5, 1.0), 5)


def test_numbers_read_by_pandas_work_too():
    result = validate_rois(pd.read_csv(io.StringIO(GOOD)))  # timepoint as int, x as float
    assert ("D02", "2") in result.by_session()


@pytest.mark.parametrize(("line", "text", "expected"), [
    (3, "D01,1,child,0.55,0.3,0.5,0.6", r"line 3: x \+ w = 1.05 reaches past the right edge"),
    (3, "D01,1,child,0.55,0.5,0.4,0.6", r"line 3: y \+ h = 1.1 reaches past the bottom edge"),
    (3, "D01,1,child,550,0.3,0.4,0.6", "line 3: x = 550 is outside 0..1: .* not pixels"),
    (3, "D01,1,child,-0.1,0.3,0.4,0.6", "line 3: x = -0.1 is outside 0..1"),
    (3, "D01,1,child,0.55,0.3,0,0.6", "line 3: w = 0 must be above 0"),
    (3, "D01,1,child,0.55,,0.4,0.6", "line 3: y is empty"),
    (3, "D01,1,child,0.55,abc,0.4,0.6", "line 3: y 'abc' is not a number"),
    (3, "D01,1,baby,0.55,0.3,0.4,0.6", "line 3: role 'baby' is not one of caregiver, child"),
    (2, ",1,caregiver,0.05,0.2,0.4,0.7", "line 2: dyad_id is empty"),
    (2, "D01,,caregiver,0.05,0.2,0.4,0.7", "line 2: timepoint is empty"),
])
def test_bad_rows_name_line_field_and_fix(line, text, expected):
    with pytest.raises(PipelineError, match=expected):
        validate_rois(replace_line(line, text))


def test_each_session_needs_caregiver_and_child():
    table = read("\n".join(line for line in GOOD.splitlines() if ",child," not in line))
    with pytest.raises(PipelineError, match=r"dyad_id=D01 timepoint=1 has no child box .*"
                                            r"caregiver on line 2.*add a row"):
        validate_rois(table)


def test_duplicate_role_in_a_session():
    table = replace_line(4, "D01,1,child,0.5,0.3,0.4,0.6")
    with pytest.raises(PipelineError, match="line 4: a second child box .* first is on line 3"):
        validate_rois(table)


def test_missing_columns_and_empty_file():
    with pytest.raises(PipelineError, match="missing column.*h: the first line"):
        validate_rois(read("dyad_id,timepoint,role,x,y,w\n"))
    with pytest.raises(PipelineError, match="has no rows"):
        validate_rois(read("dyad_id,timepoint,role,x,y,w,h\n"))


def test_overlaps_are_warned_not_refused():
    table = replace_line(3, "D01,1,child,0.35,0.3,0.4,0.6")  # 0.1 x 0.6 shared, of 0.4 x 0.6
    table.loc[2, "y"] = "0.1"  # background now reaches into the caregiver's box
    result = validate_rois(table)
    assert len(result.warnings) == 2
    assert "lines 2 and 3: the caregiver and child boxes of dyad_id=D01 timepoint=1 overlap " \
           "(25% of the smaller)" in result.warnings[0]
    assert "caregiver and background" in result.warnings[1]
    assert len(result.rois) == 5


def test_docstring_examples():
    outcome = doctest.testmod(rois)
    assert outcome.attempted > 0 and outcome.failed == 0
