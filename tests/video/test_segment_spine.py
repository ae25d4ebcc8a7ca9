"""The segment stage end to end on a real generated recording: frames, sync, codecs."""

from __future__ import annotations

import av
import numpy as np
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
    write_sample_video(root / "fam0042_pre.mp4", 10, flashes=FLASHES, seed=3)
    study = make_study(root / "study", ["FAM0042,PRE_VISIT,TREATMENT,../fam0042_pre.mp4,,"],
                       epoch=4.0)
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


def test_clips_carry_nothing_that_identifies_the_family(segmented):
    study, _ = segmented
    for row in pd.read_csv(study.clips_csv).itertuples():
        data = (study.root / row.file).read_bytes()
        for secret in (b"fam0042", b"FAM0042", b"PRE_VISIT", b"TREATMENT"):
            assert secret not in data
        with av.open(str(study.root / row.file)) as container:
            assert set(container.metadata) <= {"major_brand", "minor_version",
                                               "compatible_brands", "encoder"}


def write_damaged_and_audio_only(folder):
    """A video whose picture data are noise, and an audio-only file."""
    damaged = bytearray(write_sample_video(folder / "damaged.mp4", 2).read_bytes())
    start = damaged.find(b"mdat") + 4
    noise = np.random.default_rng(0).integers(0, 256, len(damaged) - start, dtype=np.uint8)
    damaged[start:] = noise.tobytes()
    (folder / "damaged.mp4").write_bytes(bytes(damaged))
    with av.open(str(folder / "voice.m4a"), "w") as output:
        stream = output.add_stream("aac", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        output.mux(stream.encode(frame))
        output.mux(stream.encode(None))


def test_cli_reports_each_bad_row_and_keeps_going(tmp_path):
    write_sample_video(tmp_path / "ok.mp4", 3)
    write_sample_video(tmp_path / "short.mp4", 3)
    (tmp_path / "notes.mp4").write_text("not a video")
    write_damaged_and_audio_only(tmp_path)
    study = make_study(tmp_path / "s", [
        "D1,T1,A,../ok.mp4,,",
        "D2,T1,A,../gone.mp4,,",
        "D3,T1,A,../notes.mp4,,",
        "D4,T1,A,../short.mp4,5,",
        "D5,T1,A,../ok.mp4,2,1",
        "D1,T1,A,../ok.mp4,,",
        "D6,T1,A,../ok.mp4,abc,",
        "D7,T1,A,../damaged.mp4,,",
        "D8,T1,A,../voice.m4a,,",
    ])
    result = CliRunner().invoke(cli, ["segment", str(study.root), "--quiet"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 8
    expected = {3: "video file not found", 4: "not a video file",
                5: "beyond the end of the video (3.000 s)", 6: "is not before end",
                7: "also on row 2", 8: "'abc' is not a time",
                9: "picture cannot be decoded (h264", 10: "has no picture"}
    names = {3: "gone.mp4", 4: "notes.mp4", 5: "short.mp4", 9: "damaged.mp4", 10: "voice.m4a"}
    for row, text in expected.items():
        line = next(e for e in errors if f"sessions.csv row {row} " in e)
        assert text in line and names.get(row, "ok.mp4") in line
    assert "1 clip written from 1 session;" in result.output
    assert len(pd.read_csv(study.clips_csv)) == 1
