"""interviews.csv read and checked like sessions.csv; the [interviews] settings of study.toml."""

import tomllib

import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import (
    DEFAULT_INTERVIEW_SCHEME,
    DEFAULT_SPEAKER_LABELS,
    STUDY_TOML_TEMPLATE,
    StudyConfig,
    init_study,
    load_study,
    read_interview_covariates,
    read_interviews,
)
from coding_pipeline.study.config import section_of


def _study(tmp_path, text, encoding="utf-8"):
    study = init_study(tmp_path / "s")
    (study.root / "t").mkdir()
    for name in ("a.docx", "b.txt", "c.vtt"):
        (study.root / "t" / name).write_text("I: hello\n", encoding="utf-8")
    study.interviews_csv.write_bytes(text.encode(encoding))
    return study


def test_rows_are_parsed_with_default_kind_and_covariates(tmp_path):
    study = _study(tmp_path, "dyad_id,timepoint,arm,transcript,interview,site\n"
                             "D1,baseline,A,t/a.docx,,north\nD1,post,A,t/b.txt,PDI,north\n"
                             ",,,,,\n")
    interviews, problems = read_interviews(study)
    assert problems == []
    assert [(i.dyad_id, i.timepoint, i.interview, i.row) for i in interviews] == [
        ("D1", "baseline", "PDI", 2), ("D1", "post", "PDI", 3)]
    assert interviews[0].transcript == study.root / "t" / "a.docx"
    assert interviews[0].extra == {"site": "north"}
    covariates = read_interview_covariates(study)
    assert list(covariates.columns) == ["dyad_id", "timepoint", "arm", "interview", "site"]


def test_bad_rows_are_named_by_row_and_field_and_the_others_kept(tmp_path):
    study = _study(tmp_path, "dyad_id,timepoint,arm,transcript\n"
                             "D1,baseline,A,t/a.docx\n"          # good
                             "D2,,A,t/b.txt\n"                    # empty timepoint
                             "=HYPERLINK(1),post,A,t/b.txt\n"     # a formula
                             "D3,post,B,t/missing.docx\n"         # no such file
                             "D1,baseline,A,t/c.vtt\n"            # duplicate dyad/timepoint
                             "D4,post,B,t/a.docx\n")              # the same file again
    interviews, problems = read_interviews(study)
    assert [i.dyad_id for i in interviews] == ["D1"]
    assert problems[0] == "interviews.csv row 3 (t/b.txt): timepoint is empty; fill it in."
    assert problems[1].startswith("interviews.csv row 4 (t/b.txt): dyad_id '=HYPERLINK(1)' "
                                  "begins with '='")
    assert "row 5 (t/missing.docx): transcript file" in problems[2]
    assert "not found" in problems[2]
    assert problems[3] == ("interviews.csv row 6 (t/c.vtt): dyad D1 at timepoint baseline (PDI) "
                           "is also on row 2; keep one row per dyad, timepoint and interview.")
    assert "row 7 (t/a.docx): the same transcript file is also listed on row 2" in problems[4]
    assert len(problems) == 5


@pytest.mark.parametrize("encoding,delimiter", [("utf-8-sig", ","), ("utf-16", "\t"),
                                                ("cp1252", ";")])
def test_spreadsheet_encodings_and_delimiters(tmp_path, encoding, delimiter):
    header = delimiter.join(["Dyad ID", "Timepoint", "Arm", "Transcript"])
    study = _study(tmp_path, f"{header}\r\nDé1{delimiter}baseline{delimiter}A{delimiter}t/a.docx"
                             "\r\n", encoding)
    interviews, problems = read_interviews(study)
    assert problems == [] and interviews[0].dyad_id == "Dé1"


def test_a_missing_file_or_column_is_one_clear_error(tmp_path):
    study = init_study(tmp_path / "s")
    with pytest.raises(PipelineError, match="interviews.csv not found: list one interview"):
        read_interviews(study)
    study.interviews_csv.write_text("dyad_id,timepoint,video\nD1,b,x.mp4\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"missing column\(s\) transcript; the header must "
                                            "be dyad_id,timepoint,arm,transcript,interview"):
        read_interviews(study)


def test_template_matches_the_defaults():
    data = tomllib.loads(STUDY_TOML_TEMPLATE.format(name="x", epoch=60.0, seed=1))
    defaults = StudyConfig()
    compared = set()
    for section, key, attribute, _, _ in StudyConfig.FIELDS:
        table = section_of(data, section)
        if key in table and key not in ("name", "seed", "scheme"):
            assert table[key] == getattr(defaults, attribute), (section, key)
            compared.add((section, key))
    assert {("certification.interviews", "icc_overall_min"),
            ("certification.interviews", "demand_within_one_min"),
            ("certification.interviews", "min_interviews")} <= compared
    assert data["interviews"]["scheme"] == DEFAULT_INTERVIEW_SCHEME == defaults.interview_scheme
    assert data["interviews"]["labels"] == DEFAULT_SPEAKER_LABELS == defaults.speaker_labels


def test_interview_settings_are_read_and_checked(tmp_path):
    study = init_study(tmp_path / "s")
    text = study.toml_path.read_text(encoding="utf-8")
    start = text.index("[interviews.labels]")
    study.toml_path.write_text(text[:start] + '[interviews.labels]\nIV = "interviewer"\n'
                               'Mom = "parent"\n', encoding="utf-8")
    assert load_study(study.root).config.speaker_labels == {"IV": "interviewer",
                                                            "Mom": "parent"}
    study.toml_path.write_text(text[:start] + '[interviews.labels]\n"I:" = "interviewer"\n',
                               encoding="utf-8")
    with pytest.raises(PipelineError, match=r"\[interviews\] labels .*without it"):
        load_study(study.root)
    study.toml_path.write_text(text.replace('scheme = "pdi-rf.yaml"', "scheme = 3"),
                               encoding="utf-8")
    with pytest.raises(PipelineError, match=r"\[interviews\] scheme = 3 should be text"):
        load_study(study.root)
