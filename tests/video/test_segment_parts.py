"""A session recorded as several files, cut as one recording.

One 9 s source (frame index in the picture, flashes with beeps, one flash on the first frame
of the second part) is split by FFmpeg's segment muxer at 3 s and 6 s: into AVCHD-like .MTS
parts whose timestamps continue (from 1.4 s, AC-3 sound), and into MP4 parts that each
restart at 0 (AAC). The clips must show all 270 frames once, in order, with the sound in sync
across the joins; a missing middle part is a gap reported with its size.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import pandas as pd
import pytest
from video_helpers import check_full_rate, make_study, stamps

from coding_pipeline.segment import segment_study
from coding_pipeline.video.synth import write_sample_video

pytestmark = pytest.mark.video

FLASHES = [1.0, 3.0, 5.0, 7.5]
FRAMES = 270


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    """`mts/00000.MTS ...` (continuing timestamps) and `phone/part0.mp4 ...` (restarting)."""
    root = tmp_path_factory.mktemp("parts")
    base = write_sample_video(root / "base.mp4", 9, width=320, height=180, flashes=FLASHES,
                              seed=2)
    for folder, audio, reset, kind, pattern in [("mts", "ac3", "0", "mpegts", "%05d.MTS"),
                                                ("phone", "aac", "1", "mp4", "part%d.mp4")]:
        (root / folder).mkdir()
        subprocess.run([
            imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(base), "-c:v", "libx264",
            "-preset", "ultrafast", "-force_key_frames", "expr:gte(t,n_forced*3)", "-c:a", audio,
            "-f", "segment", "-segment_times", "3,6", "-reset_timestamps", reset,
            "-segment_format", kind, str(root / folder / pattern)], check=True)
    return root


def segment_parts(root: Path, video: str, name: str):
    study = make_study(root / name, [f"D1,T1,A,{video},,"], epoch=2.0)
    report = segment_study(study, workers=1, progress=False)
    assert report.problems == [], report.problems
    return study, report, pd.read_csv(study.clips_csv)


def test_mts_parts_with_continuing_timestamps_are_one_recording(recordings):
    video = ";".join(f"../mts/0000{i}.MTS" for i in range(3))
    study, report, clips = segment_parts(recordings, video, "study_mts")
    times = [i / 30 for i in range(FRAMES)]
    shown = check_full_rate(study, clips, times, Fraction(30), flashes=len(FLASHES))
    assert shown == list(range(FRAMES))  # nothing lost or repeated at the joins
    assert report.warnings == []
    assert [Path(p).name for p in clips["source"].iloc[0].split(";")] == [
        "00000.MTS", "00001.MTS", "00002.MTS"]
    assert (clips["qc"] == "ok").all() and clips["end_s"].iloc[-1] == pytest.approx(9.0)

    before, ids = stamps(study), list(clips["clip_id"])
    again = segment_study(study, workers=1, progress=False)  # a rerun skips the session
    assert (again.sessions_skipped, again.clips_written) == (1, 0) and stamps(study) == before
    study.sessions_csv.write_text(  # a corrected dyad id relabels, nothing re-encoded
        f"dyad_id,timepoint,arm,video,start,end\nD9,T1,A,{video},,\n", encoding="utf-8")
    moved = segment_study(study, workers=1, progress=False)
    relabelled = pd.read_csv(study.clips_csv)
    assert list(relabelled["clip_id"]) == ids and (relabelled["dyad_id"] == "D9").all()
    assert any("relabelled" in note for note in moved.notes) and stamps(study) == before


def test_mp4_parts_restarting_at_zero_in_a_folder_are_laid_end_to_end(recordings):
    study, report, clips = segment_parts(recordings, "../phone", "study_phone")
    times = [i / 30 for i in range(FRAMES)]
    shown = check_full_rate(study, clips, times, Fraction(30), flashes=len(FLASHES))
    assert shown == list(range(FRAMES))
    assert report.warnings == []
    assert [Path(p).name for p in clips["source"].iloc[0].split(";")] == [
        "part0.mp4", "part1.mp4", "part2.mp4"]


def test_a_missing_middle_part_is_a_gap_reported_with_its_size(recordings):
    video = "../mts/00000.MTS;../mts/00002.MTS"
    study, report, clips = segment_parts(recordings, video, "study_gap")
    assert len(report.warnings) == 1
    assert "a gap of 3.000 s between part 1 (00000.MTS) and part 2 (00002.MTS)" in (
        report.warnings[0])
    times = {i: i / 30 for i in [*range(90), *range(180, FRAMES)]}  # true times kept
    # part 1's sound runs 3 ms past its last frame, into the beep at 3.0 s: heard, unseen
    shown = check_full_rate(study, clips, times, Fraction(30), flashes=2, stray_beeps=1)
    assert len(shown) == FRAMES and shown[90:180] == [89] * 90  # the gap holds the last frame
    assert clips["repeated_frames"].sum() == 90


def test_a_missing_part_is_named(recordings):
    study = make_study(recordings / "study_missing",
                       ["D1,T1,A,../mts/00000.MTS;../mts/00009.MTS,,"])
    report = segment_study(study, workers=1, progress=False)
    assert len(report.problems) == 1
    assert "part 2 of 2 (00009.MTS): video file not found" in report.problems[0]


def test_start_and_end_count_from_the_first_frame_of_the_first_part(recordings):
    video = ";".join(f"../mts/0000{i}.MTS" for i in range(3))
    study = make_study(recordings / "study_window", [f"D1,T1,A,{video},7.5,8.6"], epoch=0.5)
    assert segment_study(study, workers=1, progress=False).problems == []
    clips = pd.read_csv(study.clips_csv)  # part 1 lies wholly before the window (skipped)
    times = {i: i / 30 for i in range(225, 258)}
    assert check_full_rate(study, clips, times, Fraction(30), flashes=1) == list(range(225, 258))
