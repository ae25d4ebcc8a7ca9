"""Recording checks: black, frozen, silent and no-sound clips are flagged in clips.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from video_helpers import make_study

from coding_pipeline.segment import segment_study
from coding_pipeline.video.qc import ClipCheck
from coding_pipeline.video.synth import write_sample_video


def test_clip_check_flags_from_arrays():
    rng = np.random.default_rng(1)
    check = ClipCheck(has_audio=True)
    for _ in range(10):
        check.add_picture(np.full((36, 64), 5, np.uint8))
        check.add_sound(np.zeros((1, 1600), np.float32))
    assert check.flags() == ["black", "frozen", "silent"]
    check = ClipCheck(has_audio=True)
    for _ in range(10):
        check.add_picture(rng.integers(0, 256, (36, 64), dtype=np.uint8))
        check.add_sound(0.2 * rng.standard_normal((2, 1600)).astype(np.float32))
    assert check.label() == "ok"
    assert ClipCheck(has_audio=False).label() == "no_audio"


@pytest.mark.video
def test_bad_recordings_are_flagged_in_the_clip_key(tmp_path):
    write_sample_video(tmp_path / "black.mp4", 4, black_frames=(0, 10**6))
    write_sample_video(tmp_path / "frozen.mp4", 4, frozen_from=3)
    write_sample_video(tmp_path / "silent.mp4", 4, silent=True)
    write_sample_video(tmp_path / "fine.mp4", 4)
    write_sample_video(tmp_path / "half.mp4", 4, black_frames=(60, 120))
    study = make_study(tmp_path / "study", [
        "B,T1,,../black.mp4,,", "F,T1,,../frozen.mp4,,", "S,T1,,../silent.mp4,,",
        "OK,T1,,../fine.mp4,,", "H,T1,,../half.mp4,,",
    ], epoch=4.0)
    report = segment_study(study, workers=1, progress=False)
    assert report.problems == []
    qc = dict(zip(*pd.read_csv(study.clips_csv)[["dyad_id", "qc"]].T.values, strict=True))
    assert qc == {"B": "black", "F": "frozen", "S": "silent", "OK": "ok", "H": "ok"}
