"""Variable frame rate: clips at the source's full rate, every frame once, sound in sync.

Sources show each frame's index in the picture and flash with a beep; the tests read back
which source frames each clip holds and when, and where the beeps are.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from video_helpers import decode_clip, make_study

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


def check_full_rate(study, clips, times: list[float], fps: Fraction, flashes: int) -> list[int]:
    """Every source frame shown, in order, first within one frame of its time; the rest of
    the slots repeat the frame before; each flash comes with its beep within one frame."""
    shown, slot, synced = [], 0, 0
    period = float(1 / fps)
    for row in clips.itertuples():
        clip = decode_clip(study.root / row.file)
        assert clip.fps == fps and len(clip.indices) == row.frames
        assert abs(clip.audio_seconds - clip.video_seconds) <= period
        assert round(row.start_s / period) == slot  # clips tile the grid
        onsets = [at for i, at in enumerate(clip.flash_times)
                  if i == 0 or at - clip.flash_times[i - 1] > 1.5 * period]  # repeats: once
        assert len(onsets) == len(clip.beep_times), (row.file, onsets, clip.beep_times)
        for flash, beep in zip(onsets, clip.beep_times, strict=True):
            assert abs(flash - beep) <= period, (row.file, flash, beep)
            synced += 1
        repeats = sum(a == b for a, b in zip(clip.indices, clip.indices[1:], strict=False))
        if slot and clip.indices[0] == shown[-1]:  # the frame straddling the boundary
            repeats += 1
        assert row.repeated_frames == repeats
        shown += clip.indices
        slot += row.frames
    assert sorted(set(shown)) == list(range(len(times))), "a source frame is in no clip"
    assert all(b in (a, a + 1) for a, b in zip(shown, shown[1:], strict=False))
    first_slot = {index: position for position, index in reversed(list(enumerate(shown)))}
    for index, at in enumerate(times):
        assert abs(first_slot[index] * period - (at - times[0])) <= period + 1e-9, index
    assert synced == flashes
    return shown


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
