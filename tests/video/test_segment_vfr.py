"""Variable frame rate: clips at the source's full rate, every frame once, sound in sync.

Sources show each frame's index in the picture and flash with a beep; the tests read back
which source frames each clip holds and when, and where the beeps are.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from video_helpers import check_full_rate, make_study

from coding_pipeline.segment import segment_study
from coding_pipeline.video.synth import write_sample_video

pytestmark = pytest.mark.video

SIZE = {"width": 320, "height": 180}


def segment_vfr(tmp_path, times: list[float], flashes: list[float], epoch: float = 2.0):
    source = write_sample_video(tmp_path / "phone.mp4", 0, frame_times=times, flashes=flashes,
                                seed=5, **SIZE)
    study = make_study(tmp_path / "study", [f"D1,T1,A,{source},,"], epoch=epoch)
    report = segment_study(study, workers=1, progress=False)
    assert report.problems == [], report.problems
    return study, report, pd.read_csv(study.clips_csv)


def test_30_then_15_fps_is_cut_at_30_with_15_fps_frames_repeated(tmp_path):
    times = [i / 30 for i in range(120)] + [4 + i / 15 for i in range(60)]  # 4 s + 4 s
    study, report, clips = segment_vfr(tmp_path, times, flashes=[1.0, 3.5, 5.0, 6.4])
    shown = check_full_rate(study, clips, times, Fraction(30), flashes=4)
    assert len(shown) == 239 and shown.count(150) == 2  # 15 fps frames twice each
    assert (clips["fps"] == 30).all() and (clips["qc"] == "variable_rate").all()
    assert (clips["source_fps"].round(1) == 22.6).all()  # 180 frames in 7.97 s
    assert clips["repeated_frames"].tolist() == [0, 0, 30, 29]
    assert report.warnings == []


def test_30_fps_with_random_dropped_frames_loses_none_of_the_rest(tmp_path):
    rng = np.random.default_rng(11)
    kept = [i for i in range(180) if i % 30 in (0, 15) or rng.random() > 0.2]  # 1 in 5 gone
    times = [i / 30 for i in kept]
    flashes = [times[kept.index(i)] for i in (30, 105, 150)]
    study, report, clips = segment_vfr(tmp_path, times, flashes=flashes)
    shown = check_full_rate(study, clips, times, Fraction(30), flashes=3)
    assert len(shown) == 180 and clips["repeated_frames"].sum() == 180 - len(kept)
    assert (clips["qc"] == "variable_rate").all()
    assert abs(clips["source_fps"].iloc[0] - len(kept) / 6) < 0.01
    assert report.warnings == []


def test_timestamp_jitter_and_a_stall_keep_every_frame_at_its_full_rate(tmp_path):
    times, t = [], 0.0
    for i in range(170):  # bursts at 0.85 of a 30 fps frame, a long frame every fifth
        times.append(round(t, 4))
        t += 1 / 30 * (1.4 if i % 5 == 0 else 0.85) + (0.2 if i == 100 else 0.0)
    study, report, clips = segment_vfr(tmp_path, times, flashes=[1.0, 3.3])
    fps = Fraction(str(clips["fps"].iloc[0]))
    assert float(fps) == pytest.approx(30 / 0.85, abs=0.1)  # the densest stretch's rate
    check_full_rate(study, clips, times, fps, flashes=2)


def test_constant_rate_source_is_not_flagged(tmp_path):
    source = write_sample_video(tmp_path / "cfr.mp4", 3, fps=25, **SIZE)
    study = make_study(tmp_path / "study", [f"D1,T1,A,{source},,"], epoch=2.0)
    assert segment_study(study, workers=1, progress=False).problems == []
    clips = pd.read_csv(study.clips_csv)
    assert (clips["qc"] == "ok").all() and (clips["source_fps"] == 25).all()
    assert (clips["repeated_frames"] == 0).all() and (clips["fps"] == 25).all()
