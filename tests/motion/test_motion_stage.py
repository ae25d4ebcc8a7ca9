"""`coding-pipeline motion` on generated sessions whose motions are known (dyad_video.py): the
child's bursts follow the caregiver's by 0.5 s, found again in the measured series within a
frame; a camera shake flagged by the background ROI; a rotated phone file, an interlaced
camcorder file, a split recording and a variable-rate file measured as coders see them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pandas as pd
import pytest
from dyad_video import ROIS, DyadScene, write_dyad_video
from motion_helpers import lag_of_peak, make_study, measure, read_series

pytestmark = pytest.mark.video

FPS = 30
LAG_FRAMES = 15  # 0.5 s at 30 fps


@pytest.fixture(scope="module")
def scene() -> DyadScene:
    return DyadScene(seed=1)


@pytest.fixture(scope="module")
def plain(tmp_path_factory, scene) -> Path:
    return write_dyad_video(tmp_path_factory.mktemp("plain") / "session.mp4", DyadScene(seed=1))


def test_known_motions_and_the_half_second_lag_are_measured(tmp_path, scene, plain):
    series, record = measure(tmp_path, plain)
    assert len(series) == scene.frames and series.time.tolist() == pytest.approx(
        [i / FPS for i in range(scene.frames)], abs=1e-6)  # written to the microsecond
    assert np.isnan(series.caregiver[0]) and (series.repeated == 0).all()
    for role in ("caregiver", "child"):
        moving = scene.moved(role)
        values = series[role].to_numpy()
        assert (values[moving] > 0.05).all(), role
        assert (values[1:][~moving[1:]] < 0.01).all(), role
    assert lag_of_peak(series) == pytest.approx(LAG_FRAMES, abs=1)
    assert (series.background_moved == 0).all() and series.background.max() < 0.01
    assert record["threshold_source"] == "background" and 0 <= record["threshold"] < 10
    assert (record["fps"], record["frames"], record["repeated_frames"]) == (30.0, 360, 0)


def test_independent_motions_peak_nowhere_near_as_high(tmp_path, plain):
    related, _ = measure(tmp_path / "related", plain)
    other = write_dyad_video(tmp_path / "independent.mp4", DyadScene(seed=1, independent=True))
    independent, _ = measure(tmp_path / "independent", other)
    def peak(series):
        return max(abs(np.corrcoef(*pair)[0, 1]) for pair in _lagged_pairs(series))
    assert peak(related) > 0.8 and peak(independent) < 0.5


def _lagged_pairs(series):
    caregiver = series.caregiver.fillna(0).to_numpy()
    child = series.child.fillna(0).to_numpy()
    for lag in range(0, 31):
        yield caregiver[:len(caregiver) - lag], child[lag:]


def test_a_camera_shake_moves_every_roi_and_is_flagged(tmp_path):
    shaken = DyadScene(seed=2, shake=(100, 250))
    series, record = measure(tmp_path, write_dyad_video(tmp_path / "shake.mp4", shaken))
    assert np.flatnonzero(series.background_moved).tolist() == [100, 101, 250, 251]
    for role in ("caregiver", "child", "background"):
        assert (series[role][[100, 101, 250, 251]] > 0.2).all(), role
    assert record["background_moved_share"] == pytest.approx(4 / 359)


def test_a_rotated_phone_file_is_measured_as_displayed(tmp_path, scene, plain):
    upright, _ = measure(tmp_path / "upright", plain)
    for rotation in (90, 270):
        phone = write_dyad_video(tmp_path / f"phone{rotation}.mov", DyadScene(seed=1),
                                 rotation=rotation)
        turned, record = measure(tmp_path / f"phone{rotation}", phone)
        assert len(turned) == len(upright)
        for role in ("caregiver", "child"):
            np.testing.assert_allclose(turned[role][1:], upright[role][1:], atol=0.02)
        assert lag_of_peak(turned) == pytest.approx(LAG_FRAMES, abs=1)


def test_an_interlaced_camcorder_file_is_deinterlaced(tmp_path, plain):
    camcorder = write_dyad_video(tmp_path / "00000.MTS", DyadScene(seed=1), interlaced=True,
                                 container_format="mpegts")
    fields, record = measure(tmp_path / "camcorder", camcorder)
    progressive, _ = measure(tmp_path / "progressive", plain)
    assert len(fields) == len(progressive) and fields.time[0] == 0.0
    assert np.isnan(fields.caregiver[:2]).all()  # frame 0 had no frame to deinterlace with
    for role in ("caregiver", "child"):  # the second field moves half a frame early
        both = np.corrcoef(fields[role][2:], progressive[role][2:])[0, 1]
        assert both > 0.85, role
        # the deinterlacer looks a frame and a half either way: a still stretch is one where
        # nobody moves from 2 frames before to 1.5 after
        still = ~DyadScene(seed=1).moved(role, before=2.0, after=1.5)
        assert fields[role][2:][still[2:]].max() < 0.01, role  # no combing seen as motion
        moving = DyadScene(seed=1).moved(role)
        assert (fields[role][2:][moving[2:]] > 0.02).all(), role
    assert lag_of_peak(fields) == pytest.approx(LAG_FRAMES, abs=1)


def ffmpeg(*arguments: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", *arguments], check=True)


def test_a_split_recording_is_measured_as_one(tmp_path, plain):
    whole = tmp_path / "whole.mp4"  # key frames every 4 s, so parts can be cut without encoding
    ffmpeg("-i", str(plain), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18",
           "-force_key_frames", "expr:gte(t,n_forced*4)", str(whole))
    (tmp_path / "parts").mkdir()
    ffmpeg("-i", str(whole), "-c", "copy", "-f", "segment", "-segment_times", "4,8",
           "-reset_timestamps", "1", str(tmp_path / "parts" / "part%d.mp4"))
    assert len(list((tmp_path / "parts").glob("part*.mp4"))) == 3
    one, _ = measure(tmp_path / "one", whole)
    split, record = measure(tmp_path / "split", "../../parts/part0.mp4;../../parts/part1.mp4;"
                            "../../parts/part2.mp4")
    pd.testing.assert_frame_equal(split, one)  # the same frames, the joins included
    assert [Path(part).name for part in record["source"].split(";")] == [
        "part0.mp4", "part1.mp4", "part2.mp4"]


def test_a_variable_rate_file_is_measured_at_its_full_rate(tmp_path):
    scene = DyadScene(seed=4)
    keep = np.arange(scene.frames) % 5 != 3  # one frame in five left out: a phone's VFR
    source = write_dyad_video(tmp_path / "vfr.mp4", scene, keep=keep)
    series, record = measure(tmp_path, source)
    assert len(series) == scene.frames  # the full 30 fps grid
    assert np.flatnonzero(series.repeated).tolist() == np.flatnonzero(~keep).tolist()
    assert series.loc[series.repeated == 1, ["caregiver", "child"]].isna().all().all()
    assert series.loc[series.repeated == 0, "caregiver"][1:].notna().all()
    assert record["repeated_frames"] == int((~keep).sum())


def test_the_start_end_window_is_measured_on_the_recording_timeline(tmp_path, plain):
    whole, _ = measure(tmp_path / "whole", plain)
    window, record = measure(tmp_path / "window", plain, start="2", end="0:08")
    assert window.time.iloc[0] == 2.0 and len(window) == 180
    assert window.time.tolist() == whole.time[60:240].tolist()
    expected = whole.iloc[61:240].reset_index(drop=True)
    got = window.iloc[1:].reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["caregiver", "child"]], expected[["caregiver", "child"]])
    assert (record["start"], record["end"], record["first_time_s"]) == (2.0, 8.0, 2.0)


def test_files_are_named_by_session_and_kept_private(tmp_path, plain):
    study = make_study(tmp_path, [("FAM_01", "6 m", plain)])
    series = read_series(study, "FAM_01", "6 m")
    assert len(series) == 360
    files = sorted(p.name for p in (study.root / "motion").iterdir())
    assert files == [".FAM_01_6%20m.csv.rows", "FAM_01_6%20m.csv", "FAM_01_6%20m.json"]
    for path in (study.root / "motion").iterdir():
        assert path.stat().st_mode & 0o077 == 0, path


def test_the_rois_are_fractions_of_the_picture(tmp_path, plain):
    wide = {**ROIS, "caregiver": (0.0, 0.0, 0.5, 1.0)}  # also the background strip
    series, _ = measure(tmp_path, plain, rois=wide)
    narrow, _ = measure(tmp_path / "narrow", plain)
    ratio = (series.caregiver[1:].sum() / narrow.caregiver[1:].sum())
    assert ratio == pytest.approx((0.46 * 0.6) / (0.5 * 1.0), rel=0.1)  # same pixels moved
