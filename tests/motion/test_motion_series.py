"""Reading motion/<session>.csv: the columns, flagged and empty frames left out, a clear error
for a damaged file, and sessions of different frame rates put on one grid."""

import doctest

import numpy as np
import pytest
from motion_files import write_motion_csv

from coding_pipeline.errors import PipelineError
from coding_pipeline.motion import series
from coding_pipeline.motion.series import (
    MOTION_COLUMNS,
    MotionSeries,
    common_rate,
    on_grid,
    read_motion_series,
    series_file_name,
)


def test_flagged_and_empty_frames_are_missing(tmp_path):
    caregiver, child = np.linspace(0.1, 0.2, 10), np.linspace(0.3, 0.4, 10)
    moved = np.zeros(10, bool)
    moved[[4, 5]] = True
    path = write_motion_csv(tmp_path / "D1_T1.csv", 25, caregiver, child, moved)
    text = path.read_text().splitlines()
    assert text[0].split(",") == list(MOTION_COLUMNS)
    read = read_motion_series(path)
    assert read.fps == 25 and read.moved.tolist() == moved.tolist()
    assert read.moved_share == pytest.approx(0.2)
    missing = [0, 4, 5]  # the first frame has no difference; 4 and 5 flagged
    assert np.isnan(read.caregiver[missing]).all() and np.isnan(read.child[missing]).all()
    kept = [i for i in range(10) if i not in missing]
    np.testing.assert_allclose(read.caregiver[kept], caregiver[kept], rtol=1e-5)


@pytest.mark.parametrize("column", ["moved", "camera_moved", "Background_Moved"])
def test_the_flag_column_may_be_spelled_otherwise(tmp_path, column):
    moved = np.r_[np.zeros(5, bool), np.ones(3, bool)]
    path = write_motion_csv(tmp_path / "s.csv", 30, np.full(8, 0.1), np.full(8, 0.2), moved,
                            flag_column=column)
    assert read_motion_series(path).moved.tolist() == moved.tolist()


def test_without_a_flag_column_nothing_is_flagged(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("time,caregiver,child\n0,,\n0.04,0.1,0.2\n0.08,0.2,\n")
    read = read_motion_series(path)
    assert not read.moved.any() and np.isnan(read.child[2]) and np.isnan(read.caregiver[2])


@pytest.mark.parametrize("text, message", [
    ("time,caregiver\n0,0.1\n", "missing column(s) child"),
    ("time,caregiver,child\n0,0.1,0.2\n0.04,lots,0.2\n", "line 3: caregiver = 'lots'"),
    ("time,caregiver,child\n0.04,0.1,0.2\n0,0.1,0.2\n", "increasing seconds"),
    ("time,caregiver,child,background_moved\n0,0.1,0.2,maybe\n", "line 2: background_moved"),
])
def test_a_damaged_file_is_named_with_what_to_do(tmp_path, text, message):
    path = tmp_path / "D1_T1.csv"
    path.write_text(text)
    with pytest.raises(PipelineError, match="rerun `coding-pipeline motion`") as error:
        read_motion_series(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_sessions_at_different_rates_share_the_lowest_rate():
    seconds = 4
    at_30 = MotionSeries(np.arange(30 * seconds) / 30, np.arange(30.0 * seconds),
                         np.ones(30 * seconds), np.zeros(30 * seconds, bool))
    at_25 = MotionSeries(np.arange(25 * seconds) / 25, np.arange(25.0 * seconds),
                         np.ones(25 * seconds), np.zeros(25 * seconds, bool))
    fps = common_rate([at_30.fps, at_25.fps])
    assert fps == 25
    caregiver, child = on_grid(at_30, fps)
    assert caregiver.size == 25 * seconds  # 4 s at 25 fps (the last point: the last frame)
    # each grid point is the mean of the 30 fps frames whose time rounds to it
    times = np.arange(30 * seconds) / 30
    index = np.floor(times * 25 + 0.5 + 1e-6).astype(int)
    expected = [np.arange(30.0 * seconds)[index == k].mean() for k in range(index.max() + 1)]
    np.testing.assert_allclose(caregiver, expected)
    np.testing.assert_allclose(on_grid(at_25, fps)[0], np.arange(25.0 * seconds))
    assert not np.isnan(child).any()


def test_a_variable_rate_gap_is_missing_on_the_grid():
    times = np.r_[np.arange(10), np.arange(13, 20)] / 30  # frames 10-12 never came
    read = MotionSeries(times, np.ones(17), np.ones(17), np.zeros(17, bool))
    caregiver, _ = on_grid(read, 30)
    assert caregiver.size == 20 and np.isnan(caregiver[10:13]).all()
    assert not np.isnan(np.delete(caregiver, [10, 11, 12])).any()


def test_file_names_and_doctests():
    assert series_file_name("D01", "baseline") == "D01_baseline.csv"
    outcome = doctest.testmod(series)
    assert outcome.attempted > 0 and outcome.failed == 0
