"""Issue 9 with real video: the clip key is never lost, nothing outside clips/ is deleted, bad
epochs and defaulted settings stop segment, and the workers of a killed segment stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from video_helpers import make_study, stamps

from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.study import clip_key_history, load_study, read_clips, write_csv_atomic
from coding_pipeline.video.probe import clip_is_complete
from coding_pipeline.video.synth import write_sample_video

pytestmark = pytest.mark.video


@pytest.fixture
def cut(tmp_path):
    """A study of two sessions (3 s and 2 s, 1 s epochs) already segmented: 5 clips."""
    write_sample_video(tmp_path / "a.mp4", 3, width=160, height=120, seed=1)
    write_sample_video(tmp_path / "b.mp4", 2, width=160, height=120, seed=2)
    study = make_study(tmp_path / "study", ["D01,T1,A,../a.mp4,,", "D02,T1,B,../b.mp4,,"],
                       epoch=1.0)
    result = segment(study)
    assert result.exit_code == 0, result.output
    return study


def segment(study, *options: str):
    workers = [] if "--workers" in options else ["--workers", "1"]  # no process start-up
    return CliRunner().invoke(cli, ["segment", str(study.root), "--quiet", *workers, *options])


def snapshot(study) -> tuple[str, dict[str, int]]:
    return study.clips_csv.read_text(), stamps(study)


def assert_refused_and_untouched(study, result, before, needle: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and needle in result.output, result.output
    assert stamps(study) == before[1]  # no clip deleted or re-cut


def test_clips_csv_cut_in_half_stops_segment_and_names_the_copy(cut):
    before = snapshot(cut)
    copy = clip_key_history(cut)[-1]
    text = before[0]
    cut.clips_csv.write_text(text[: len(text) // 2])
    result = segment(cut)
    assert_refused_and_untouched(cut, result, before, "clips.csv is damaged (cut short or "
                                 "edited)")
    assert f"Restore it with `cp {copy} {cut.clips_csv}`. Nothing was changed" in result.output
    cut.clips_csv.write_text(text[: text.index("\n", len(text) // 2) + 1])  # at a line end
    result = segment(cut)
    assert_refused_and_untouched(cut, result, before, "clips.csv lists 3 clips but 2 more are "
                                 f"in its last copy {copy.name}")
    assert f"`cp {copy} {cut.clips_csv}`" in result.output
    assert "no clip was deleted" in result.output
    with pytest.raises(PipelineError, match="2 more are in its last copy"):
        read_clips(load_study(cut.root))  # what batch, push, scores and report read
    cut.clips_csv.write_bytes(copy.read_bytes())  # the restore the message gives
    result = segment(cut)
    assert result.exit_code == 0 and "2 sessions already complete" in result.output
    assert cut.clips_csv.read_text() == text and stamps(cut) == before[1]


def test_a_deleted_clips_csv_is_not_cut_again_under_new_ids(cut):
    before = snapshot(cut)
    cut.clips_csv.unlink()
    result = segment(cut)
    assert_refused_and_untouched(cut, result, before, "clips.csv is missing, but its last copy "
                                 "lists 5 clips: restore it with `cp ")


def test_without_copies_the_manifests_and_batches_still_tell(cut):
    before = snapshot(cut)
    for copy in clip_key_history(cut):  # a study from before copies were kept
        copy.unlink()
    clips = pd.read_csv(cut.clips_csv, dtype=str, keep_default_na=False)
    write_csv_atomic(cut.clips_csv, clips[clips.dyad_id == "D01"])  # D02 gone from the key
    result = segment(cut)
    assert_refused_and_untouched(cut, result, before, "clips.csv lists 3 clips but 2 more are "
                                 "in the manifest of D02/T1")
    assert "restore clips.csv from a backup" in result.output
    (cut.root / ".segment").joinpath("x").touch()
    for manifest in (cut.root / ".segment").glob("*.json"):
        manifest.unlink()
    given = clips[clips.dyad_id == "D02"][["clip_id"]].assign(coder="a@lab.org", role="primary",
                                                               order=1)
    write_csv_atomic(cut.root / "batches" / "batch-01.csv", given)
    result = segment(cut)
    assert_refused_and_untouched(cut, result, before, "2 more are in batch batch-01.csv (clips "
                                 "given to coders)")


def test_an_emptied_study_toml_does_not_default_the_epoch_once_clips_exist(cut):
    before = snapshot(cut)
    cut.toml_path.write_text("")
    result = segment(cut)
    assert_refused_and_untouched(cut, result, before, (
        f"Error: {cut.toml_path}: [segment] epoch_seconds is not set, and clips.csv holds 5 "
        "clips: set `epoch_seconds = 1` under [segment] (defaults are not used once clips "
        "exist, so that no clip is cut again or deleted by mistake). Nothing was changed."))
    cut.toml_path.write_text("[segment]\nepoch_seconds = 1\n")
    result = segment(cut)
    assert_refused_and_untouched(cut, result, before, "[segment] min_last_epoch is not set, "
                                 "and clips.csv holds 5 clips: set `min_last_epoch = 0.5`")


def test_segment_deletes_only_clip_files_it_wrote_inside_clips(cut, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    inside = cut.root / "notes.txt"
    inside.write_text("precious too")
    clips = pd.read_csv(cut.clips_csv, dtype=str, keep_default_na=False)
    rows = [clips.iloc[0].to_dict() | {"clip_id": "0123456789ab", "dyad_id": "GONE",
                                       "file": "../victim.txt"},
            clips.iloc[0].to_dict() | {"clip_id": "ba9876543210", "dyad_id": "GONE2",
                                       "file": "notes.txt"}]
    write_csv_atomic(cut.clips_csv, pd.concat([clips, pd.DataFrame(rows)], ignore_index=True))
    result = segment(cut)
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious" and inside.read_text() == "precious too"
    assert ("Warning: clip 0123456789ab: ../victim.txt is not a clip file segment wrote in "
            f"{cut.clips_dir}; left in place.") in result.output
    assert "clip ba9876543210: notes.txt is not a clip file" in result.output
    assert len(read_clips(load_study(cut.root))) == 5


def test_an_epoch_shorter_than_a_frame_is_refused_at_once(cut):
    start = time.monotonic()
    result = segment(cut, "--epoch", "0.000001")
    assert time.monotonic() - start < 20
    assert result.exit_code == 1
    assert ("an epoch of 1e-06 s is shorter than one frame of this video (1/30 s): use --epoch "
            "0.0333 or more.") in result.output


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _held(path: Path) -> bool:
    import fcntl

    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_workers_of_a_killed_segment_stop_and_a_rerun_finishes_cleanly(tmp_path):
    for name, seed in (("a", 1), ("b", 2)):
        write_sample_video(tmp_path / f"{name}.mp4", 8, width=320, height=240, seed=seed)
    study = make_study(tmp_path / "study", ["D01,T1,A,../a.mp4,,", "D02,T1,B,../b.mp4,,"],
                       epoch=2.0)
    parent = subprocess.Popen(
        [sys.executable, "-c", "from coding_pipeline.cli import main; main()", "segment",
         str(study.root), "--quiet", "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(study.clips_dir.glob(".*.part.mp4")) and time.monotonic() < deadline:
            time.sleep(0.05)  # a worker is encoding
        workers = _children(parent.pid)
        assert workers, "no worker started"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        held = _held(study.root / ".segment" / "workers.lock")
        if any(map(_alive, workers)):  # then they held it when it was tried
            assert held, "a rerun could start while the killed run's workers encode"
        stopped = time.monotonic() + 5
        while any(map(_alive, workers)) and time.monotonic() < stopped:
            time.sleep(0.05)
        assert not any(map(_alive, workers)), "workers kept encoding after the parent died"
    finally:
        parent.kill()
    result = segment(study, "--workers", "2")
    assert result.exit_code == 0, result.output
    clips = pd.read_csv(study.clips_csv, dtype=str)
    assert len(clips) == 8 and clips.clip_id.is_unique
    for row in clips.itertuples():
        assert clip_is_complete(study.root / row.file, int(row.frames), float(row.duration_s),
                                True)
    assert not list(study.clips_dir.glob(".*part*"))
