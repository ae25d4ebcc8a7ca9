"""Runs that overlap, damaged clips, corrected or removed sessions, and the messages they get."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from click.testing import CliRunner
from video_helpers import decode_clip, make_study, stamps

import coding_pipeline.video.cut as cut
import coding_pipeline.video.frames as frames
from coding_pipeline.cli import cli
from coding_pipeline.segment import segment_study
from coding_pipeline.video.synth import write_sample_video

pytestmark = pytest.mark.video


@pytest.fixture
def study(tmp_path):
    write_sample_video(tmp_path / "a.mp4", 3, seed=1)
    write_sample_video(tmp_path / "b.mp4", 2, seed=2)
    return make_study(tmp_path / "study", ["D031,post,A,../a.mp4,,", "D2,T1,B,../b.mp4,,"],
                      epoch=1.0)


def write_sessions(study, rows: list[str]) -> None:
    study.sessions_csv.write_text(
        "dyad_id,timepoint,arm,video,start,end\n" + "".join(r + "\n" for r in rows))


def segment(study, *options: str):
    return CliRunner().invoke(cli, ["segment", str(study.root), "--quiet", *options])


def test_a_second_run_stops_at_once_and_a_crashed_run_frees_the_study(study):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from coding_pipeline.segment import segment_lock
        from coding_pipeline.study import load_study
        with segment_lock(load_study({str(study.root)!r})):
            print("locked", flush=True)
            time.sleep(120)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = segment(study)
        assert result.exit_code == 1
        assert result.output.strip() == (
            f"Error: another `segment` is running on this study (pid {holder.pid}); "
            "wait for it to finish.")
        assert not study.clips_csv.exists() and not list(study.clips_dir.glob("*"))
    finally:
        holder.kill()  # a crash: the kernel releases the lock
        holder.wait()
    result = segment(study)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(study.clips_csv)) == 5


def test_a_clip_recorded_as_complete_but_damaged_is_cut_again(study):
    assert segment_study(study, workers=1, progress=False).problems == []
    clips = pd.read_csv(study.clips_csv, dtype=str)
    before = stamps(study)
    damaged = study.root / clips.file[0]
    data = bytearray(damaged.read_bytes())
    at = data.find(b"moov")
    data[at - 4:at + 60] = os.urandom(64)  # the header a player reads first
    damaged.write_bytes(bytes(data))
    cut_short = study.root / clips.file[1]
    cut_short.write_bytes(cut_short.read_bytes()[:-2000])
    report = segment_study(study, workers=1, progress=False)
    assert (report.sessions_done, report.sessions_skipped, report.clips_written) == (1, 1, 2)
    warning = next(w for w in report.warnings if "recorded as complete" in w)
    assert warning.startswith("sessions.csv row 2 (../a.mp4): 2 of its 3 clips")
    assert clips.clip_id[0] in warning and clips.clip_id[1] in warning
    assert pd.read_csv(study.clips_csv, dtype=str).equals(clips)
    assert decode_clip(damaged).indices == list(range(30))
    assert decode_clip(cut_short).indices == list(range(30, 60))
    after = stamps(study)
    assert {k: v for k, v in after.items() if k not in (damaged.name, cut_short.name)} == {
        k: v for k, v in before.items() if k not in (damaged.name, cut_short.name)}
    again = segment_study(study, workers=1, progress=False)
    assert (again.sessions_skipped, again.clips_written, again.warnings) == (2, 0, [])


def test_only_a_failure_to_decode_the_source_advises_converting_it(study, monkeypatch):
    def disk_gone(self, job, *args):
        raise FileNotFoundError(2, "No such file or directory", f"clips/.{job.path.stem}.part.mp4")

    monkeypatch.setattr(cut._ClipWriter, "__init__", disk_gone)
    report = segment_study(study, workers=1, progress=False)
    assert len(report.problems) == 2
    for problem in report.problems:
        assert "convert" not in problem and "clips could not be written" in problem
        assert "free space" in problem
    monkeypatch.undo()

    def undecodable(container, stream):
        raise RuntimeError("bitstream broken")
        yield

    monkeypatch.setattr(frames, "_decode", undecodable)  # the decoding loop of cut.py
    report = segment_study(study, workers=1, progress=False)
    assert len(report.problems) == 2
    assert report.problems[0].startswith(
        "sessions.csv row 2 (../a.mp4): the video could not be decoded (RuntimeError: "
        "bitstream broken); convert the file to MP4")


def test_a_corrected_dyad_id_or_arm_relabels_the_clips_without_recutting(study):
    segment_study(study, workers=1, progress=False)
    clips = pd.read_csv(study.clips_csv, dtype=str)
    before = stamps(study)
    write_sessions(study, ["D032,post,A,../a.mp4,,", "D2,T1,C,../b.mp4,,"])
    result = segment(study)
    assert result.exit_code == 0, result.output
    assert ("Note: sessions.csv row 2 (../a.mp4): relabelled 3 clips of D031/post as "
            "D032/post") in result.output
    assert "Note: sessions.csv row 3 (../b.mp4): arm of 2 clips changed from 'B' to 'C'" in (
        result.output)
    assert "0 clips written from 0 sessions; 2 sessions already complete" in result.output
    after = pd.read_csv(study.clips_csv, dtype=str)
    assert list(after.clip_id) == list(clips.clip_id)
    assert list(after.dyad_id) == ["D032"] * 3 + ["D2"] * 2
    assert list(after.arm) == ["A"] * 3 + ["C"] * 2
    assert stamps(study) == before
    write_sessions(study, ["D031,post,A,../a.mp4,,", "D2,T1,B,../b.mp4,,"])
    result = segment(study)
    assert "relabelled 3 clips of D032/post as D031/post" in result.output
    assert pd.read_csv(study.clips_csv, dtype=str).equals(clips)
    assert stamps(study) == before


def test_clips_of_a_removed_session_go_unless_given_to_coders(study):
    segment_study(study, workers=1, progress=False)
    clips = pd.read_csv(study.clips_csv, dtype=str)
    write_sessions(study, ["D031,post,A,../a.mp4,oops,", "D2,T1,B,../b.mp4,,"])
    result = segment(study)  # a bad row is not a removed session: its clips stay
    assert result.exit_code == 1 and "Note: removed" not in result.output
    assert pd.read_csv(study.clips_csv, dtype=str).equals(clips)

    given = clips.clip_id[3]
    (study.root / "batches").mkdir()
    (study.root / "batches" / "b1.csv").write_text(f"clip_id,coder\n{given},c@lab.org\n")
    write_sessions(study, ["D9,T1,B,../b.mp4,1,"])
    result = segment(study)
    assert result.exit_code == 0, result.output
    assert ("Note: removed 3 clips of D031/post: the session is no longer in sessions.csv "
            "and none of its clips was given to coders.") in result.output
    warning = next(line for line in result.output.splitlines() if "D2/T1" in line)
    assert warning.startswith("Warning: 2 clips of D2/T1 (")
    assert given in warning and "given to coders" in warning and "put its row back" in warning
    after = pd.read_csv(study.clips_csv, dtype=str)
    assert set(after.clip_id) >= set(clips.clip_id[3:]) and not set(after.clip_id) & set(
        clips.clip_id[:3])
    assert not any((study.root / f).exists() for f in clips.file[:3])
    assert all((study.root / f).exists() for f in after.file)


def test_messages_name_the_file_as_written_and_progress_tells_sessions_apart(study):
    (study.root / "vids").mkdir()
    write_sample_video(study.root / "vids" / "short.mp4", 1)
    write_sample_video(study.root / "vids" / "other.mp4", 1)
    write_sessions(study, ["D1,T1,A,vids/short.mp4,,", "D2,T1,B,vids/missing.mp4,,",
                           "D3,T1,B,vids/other.mp4,5,"])
    result = CliRunner().invoke(cli, ["segment", str(study.root), "--workers", "1"])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors[0].startswith("Error: sessions.csv row 3 (vids/missing.mp4): video file")
    assert errors[1].startswith("Error: sessions.csv row 4 (vids/other.mp4): start 5 s")
    progress = [line for line in result.stderr.splitlines() if "sessions" in line
                and not line.startswith("Error")]
    assert progress[0].startswith("finished D1/T1; ")
    assert progress[1].startswith("failed D2/T1; ") and progress[2].startswith("failed D3/T1; ")
    write_sessions(study, ["D1,T1,A,vids/short.mp4,,"])
    result = CliRunner().invoke(cli, ["segment", str(study.root)])
    assert result.exit_code == 0
    assert result.stderr.strip() == "already complete D1/T1; 1/1 sessions"
    write_sessions(study, [])
    result = segment(study)
    assert result.exit_code == 1 and "no sessions listed in sessions.csv" in result.output
    assert len(result.output.strip().splitlines()) == 1
