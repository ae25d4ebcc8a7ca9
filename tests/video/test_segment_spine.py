"""The segment stage end to end on a real generated recording: frames, sync, codecs."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from video_helpers import decode_clip, make_study

from coding_pipeline.cli import cli
from coding_pipeline.segment import segment_study
from coding_pipeline.video.synth import write_sample_video

pytestmark = pytest.mark.video

FLASHES = [1.0, 4.5, 9.2]


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    root = tmp_path_factory.mktemp("spine")
    write_sample_video(root / "d1.mp4", 10, flashes=FLASHES, seed=3)
    study = make_study(root / "study", ["D1,T1,A,../d1.mp4,,"], epoch=4.0)
    report = segment_study(study, workers=1, progress=False)
    return study, report


def test_every_source_frame_lands_in_exactly_one_clip(segmented):
    study, report = segmented
    assert report.problems == [] and report.sessions_done == 1
    clips = pd.read_csv(study.clips_csv)
    assert list(clips["frames"]) == [120, 120, 60]
    shown = []
    for row in clips.itertuples():
        clip = decode_clip(study.root / row.file)
        first = round(row.start_s * 30)
        assert clip.indices == list(range(first, first + row.frames))
        shown += clip.indices
    assert shown == list(range(300))


def test_clips_are_browser_ready_with_sound_in_sync(segmented):
    study, _ = segmented
    clips = pd.read_csv(study.clips_csv)
    flashes_seen = 0
    for row in clips.itertuples():
        clip = decode_clip(study.root / row.file)
        assert (clip.video_codec, clip.profile, clip.pix_fmt) == ("h264", "High", "yuv420p")
        assert clip.level <= 42 and clip.moov_first and clip.audio_codec == "aac"
        assert clip.fps == 30
        assert abs(clip.audio_seconds - clip.video_seconds) <= 1 / 30
        assert len(clip.flash_times) == len(clip.beep_times)
        for flash, beep in zip(clip.flash_times, clip.beep_times, strict=True):
            assert abs(flash - beep) <= 1 / 30, (row.file, flash, beep)
            flashes_seen += 1
    assert flashes_seen == len(FLASHES)


def test_cli_reports_each_bad_row_and_keeps_going(tmp_path):
    write_sample_video(tmp_path / "ok.mp4", 3)
    (tmp_path / "notes.mp4").write_text("not a video")
    study = make_study(tmp_path / "s", [
        "D1,T1,A,../ok.mp4,,",
        "D2,T1,A,../gone.mp4,,",
        "D3,T1,A,../notes.mp4,,",
        "D4,T1,A,../ok.mp4,5,",
        "D5,T1,A,../ok.mp4,2,1",
        "D1,T1,A,../ok.mp4,,",
        "D6,T1,A,../ok.mp4,abc,",
    ])
    result = CliRunner().invoke(cli, ["segment", str(study.root), "--quiet"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 6
    expected = {3: "video file not found", 4: "not a video file",
                5: "beyond the end of the video (3.000 s)", 6: "is not before end",
                7: "also on row 2", 8: "'abc' is not a time"}
    names = {3: "gone.mp4", 4: "notes.mp4"}
    for row, text in expected.items():
        line = next(e for e in errors if f"sessions.csv row {row} " in e)
        assert text in line and names.get(row, "ok.mp4") in line
    assert "1 clips written from 1 sessions" in result.output
    assert len(pd.read_csv(study.clips_csv)) == 1
