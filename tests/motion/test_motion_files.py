"""The motion files' names and rows (no video): readable for ordinary ids, safe and distinct for
any id; the rows say which frames are missing and why."""

import doctest

import numpy as np
import pytest

from coding_pipeline.motion import files
from coding_pipeline.motion.energy import MotionEnergy, MotionSettings
from coding_pipeline.motion.files import MOTION_COLUMNS, motion_table, session_file_stem


def test_doctests():
    assert doctest.testmod(files).failed == 0


@pytest.mark.parametrize(("dyad_id", "timepoint", "stem"), [
    ("D001", "T1", "D001_T1"),
    ("FAM_001", "baseline", "FAM_001_baseline"),
    ("fam-2.b", "6m", "fam-2.b_6m"),
    ("../etc", "T1", "%2E.%2Fetc_T1"),
    (".hidden", "T1", "%2Ehidden_T1"),
    ("D 1", "post_2", "D%201_post%5F2"),
    ("Müller", "T1", "M%C3%BCller_T1"),
    ("a%20b", "T1", "a%2520b_T1"),
    ("C:\\x", "T:1", "C%3A%5Cx_T%3A1"),
])
def test_names_keep_ordinary_ids_and_escape_the_rest(dyad_id, timepoint, stem):
    assert session_file_stem(dyad_id, timepoint) == stem


def test_distinct_sessions_get_distinct_names():
    pairs = [("A_B", "C"), ("A", "B_C"), ("A", "B%5FC"), ("A%5FB", "C"), ("a_b", "c"),
             ("AB", "C"), ("A", "BC"), ("A.", "BC"), ("A", ".BC")]
    stems = [session_file_stem(*pair) for pair in pairs]
    assert len(set(stems)) == len(stems)
    for stem in stems:
        assert "/" not in stem and "\\" not in stem and not stem.startswith(".")


def test_very_long_ids_are_cut_to_a_distinct_name():
    first = session_file_stem("X" * 300, "T1")
    second = session_file_stem("X" * 299 + "Y", "T1")
    assert len(first) == len(second) == 200 and first != second


def test_rows_mark_missing_frames_and_background_moves():
    energy = MotionEnergy(
        energy={"caregiver": np.array([np.nan, 0.1, 0.0, 0.25]),
                "child": np.array([np.nan, 0.2, 0.0, 0.125]),
                "background": np.array([np.nan, 0.01, 0.0, 0.3])},
        background_moved=np.array([False, False, False, True]), threshold=4,
        threshold_source="background")
    repeated = np.array([False, False, True, False])
    unreliable = np.array([False, True, False, False])
    table = motion_table(np.array([30, 31, 32, 33]), 30.0, energy, repeated, unreliable)
    assert tuple(table.columns) == MOTION_COLUMNS
    assert table.to_dict("list") == {
        "time": ["1.000000", "1.033333", "1.066667", "1.100000"],
        "caregiver": ["", "", "", "0.25"], "child": ["", "", "", "0.125"],
        "background": ["", "", "", "0.3"], "background_moved": ["0", "0", "0", "1"],
        "repeated": ["0", "0", "1", "0"]}
    people = MotionEnergy(energy={"caregiver": np.array([np.nan, 0.5]),
                                  "child": np.array([np.nan, 0.0])},
                          background_moved=np.array([False, False]), threshold=10,
                          threshold_source="default")
    table = motion_table(np.array([0, 1]), 25.0, people, np.zeros(2, bool), np.zeros(2, bool))
    assert table.background.tolist() == ["", ""] and table.background_moved.tolist() == ["", ""]
    assert table.caregiver.tolist() == ["", "0.5"]


def test_the_default_threshold_is_a_setting():
    from coding_pipeline.motion.energy import MotionEnergyAccumulator

    meter = MotionEnergyAccumulator({"caregiver": (0, 0, 0.5, 1), "child": (0.5, 0, 0.5, 1)},
                                    MotionSettings(default_threshold=20, blur_kernel=0,
                                                   downscale=1))
    still = np.zeros((4, 8), np.uint8)
    meter.feed(still)
    meter.feed(still + 15)  # below 20: no change counted
    result = meter.result()
    assert (result.threshold, result.threshold_source) == (20, "default")
    assert result.energy["caregiver"][1] == 0.0
    with pytest.raises(ValueError, match="default_threshold"):
        MotionSettings(default_threshold=64)
