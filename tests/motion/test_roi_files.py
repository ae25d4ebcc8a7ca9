"""rois.csv written by `rois pull`: drawn sessions replaced, other sessions kept, a hand-edited
session never overwritten silently, every replaced file kept; Label Studio's percent boxes as
fractions."""

import doctest

import pandas as pd
import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio import rois as ls_rois
from coding_pipeline.labelstudio.rois import drawn_rois, rectangle_box
from coding_pipeline.motion.roi_files import read_rois, rois_csv, rois_dir, write_pulled_rois
from coding_pipeline.study import init_study


def rows(session, caregiver=(0.1, 0.1, 0.3, 0.6), child=(0.5, 0.1, 0.4, 0.6)):
    dyad_id, timepoint = session
    return pd.DataFrame([
        {"dyad_id": dyad_id, "timepoint": timepoint, "role": role, "x": box[0], "y": box[1],
         "w": box[2], "h": box[3]} for role, box in (("caregiver", caregiver), ("child", child))])


@pytest.fixture
def study(tmp_path):
    return init_study(tmp_path / "s")


def test_first_pull_writes_rois_csv_that_reads_back(study):
    path, checked, kept = write_pulled_rois(study, pd.concat([rows(("D1", "T1")),
                                                              rows(("D2", "T1"))]))
    assert path == rois_csv(study) and kept == 0 and not checked.warnings
    assert list(read_rois(study).by_session()) == [("D1", "T1"), ("D2", "T1")]
    assert not (rois_dir(study) / "history").exists()  # nothing replaced


def test_hand_written_sessions_are_kept_and_a_copy_of_each_file(study):
    rois_csv(study).write_text("dyad_id,timepoint,role,x,y,w,h\n"
                               "D9,T1,caregiver,0,0,0.5,1\nD9,T1,child,0.5,0,0.5,1\n")
    _, checked, kept = write_pulled_rois(study, rows(("D1", "T1")))
    assert kept == 1
    assert list(checked.by_session()) == [("D9", "T1"), ("D1", "T1")]
    history = list((rois_dir(study) / "history").glob("rois-*.csv"))
    assert len(history) == 1 and "D9" in history[0].read_text()


def test_a_pull_replaces_what_the_last_pull_wrote(study):
    write_pulled_rois(study, rows(("D1", "T1")))
    moved = rows(("D1", "T1"), caregiver=(0.0, 0.0, 0.2, 0.2))
    _, checked, _ = write_pulled_rois(study, moved)
    assert checked.by_session()[("D1", "T1")]["caregiver"].box == (0.0, 0.0, 0.2, 0.2)


def test_a_hand_edit_of_a_drawn_session_is_not_overwritten_silently(study):
    write_pulled_rois(study, rows(("D1", "T1")))
    text = rois_csv(study).read_text().replace("0.3,0.6", "0.35,0.6", 1)
    rois_csv(study).write_text(text)
    with pytest.raises(PipelineError, match=r"edited by hand for 1 session\(s\).*D1 T1.*--replace"):
        write_pulled_rois(study, rows(("D1", "T1"), caregiver=(0.0, 0.0, 0.2, 0.2)))
    assert rois_csv(study).read_text() == text  # nothing written
    _, checked, _ = write_pulled_rois(study, rows(("D1", "T1"), caregiver=(0, 0, 0.2, 0.2)),
                                      replace=True)
    assert checked.by_session()[("D1", "T1")]["caregiver"].w == 0.2
    assert any("0.35" in p.read_text() for p in (rois_dir(study) / "history").iterdir())


def test_a_pulled_box_outside_the_rules_is_refused_before_writing(study):
    with pytest.raises(PipelineError, match="reaches past the right edge"):
        write_pulled_rois(study, rows(("D1", "T1"), child=(0.8, 0.1, 0.4, 0.5)))
    assert not rois_csv(study).exists()


def test_label_studio_percent_boxes_become_fractions():
    assert rectangle_box({"x": 12.5, "y": 25, "width": 50, "height": 75}) == (
        0.125, 0.25, 0.5, 0.75)
    assert rectangle_box({"x": 90, "y": -1, "width": 20, "height": 50}) == (0.9, 0.0, 0.1, 0.49)
    outcome = doctest.testmod(ls_rois)
    assert outcome.attempted > 0 and outcome.failed == 0


def test_drawn_rois_takes_the_latest_annotation_and_reports_incomplete_ones():
    key = pd.DataFrame({"frame_id": ["f1", "f2", "f3"], "dyad_id": ["D1", "D2", "D3"],
                        "timepoint": ["T1"] * 3, "width": ["640"] * 3, "height": ["360"] * 3})

    def box(role, x):
        return {"type": "rectanglelabels", "from_name": "roi", "to_name": "image",
                "original_width": 640, "original_height": 360,
                "value": {"x": x, "y": 10, "width": 20, "height": 50, "rotation": 0,
                          "rectanglelabels": [role]}}

    tasks = [
        {"id": 1, "data": {"frame_id": "f1"}, "annotations": [
            {"id": 5, "updated_at": "2026-01-01T10:00:00Z", "result": [box("caregiver", 0),
                                                                     box("child", 50)]},
            {"id": 6, "updated_at": "2026-01-02T10:00:00Z", "result": [box("caregiver", 10),
                                                                     box("child", 60),
                                                                     box("background", 80)]}]},
        {"id": 2, "data": {"frame_id": "f2"}, "annotations": [
            {"id": 7, "updated_at": "2026-01-01T10:00:00Z", "result": [box("caregiver", 0)]}]},
        {"id": 3, "data": {"frame_id": "f3"}, "annotations": []},
    ]
    table, warnings, not_drawn = drawn_rois(tasks, key)
    assert table["role"].tolist() == ["caregiver", "child", "background"]
    assert table["x"].tolist() == [0.1, 0.6, 0.8] and set(table["dyad_id"]) == {"D1"}
    assert not_drawn == 1
    assert len(warnings) == 1 and "dyad_id=D2" in warnings[0] and "no child box" in warnings[0]
