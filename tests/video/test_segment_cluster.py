"""`segment --scheduler` on a real local Dask cluster: a scheduler and workers started here as
processes (`dask scheduler`, `dask worker`) on loopback, the client run as the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from video_helpers import decode_clip, make_study, stamps

from coding_pipeline.segment import segment_study
from coding_pipeline.video.synth import write_sample_video

distributed = pytest.importorskip("distributed")

pytestmark = [pytest.mark.video, pytest.mark.cluster]

DASK = str(Path(sys.executable).with_name("dask"))


class Cluster:
    """A scheduler and workers as child processes; stopped (by pid) when the test ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self._start([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                     "--no-dashboard"], "scheduler")

    def _start(self, command: list[str], name: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=self.folder, start_new_session=True)
        self.processes.append(process)
        return process

    def add_workers(self, count: int, wrapper: list[str] = ()) -> None:
        for _ in range(count):
            number = len(self.workers) + 1
            self.workers.append(self._start([
                *wrapper, DASK, "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
                "--no-nanny", "--no-dashboard", "--name", f"w{number}",
                "--local-directory", str(self.folder / f"w{number}")], f"worker{number}"))
        with distributed.Client(self.address, timeout=30) as client:
            client.wait_for_workers(len(self.workers), timeout=60)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def make_cluster(tmp_path):
    made: list[Cluster] = []

    def make(workers: int, wrapper: list[str] = ()) -> Cluster:
        folder = tmp_path / f"cluster{len(made)}"
        folder.mkdir()
        cluster = Cluster(folder)
        made.append(cluster)
        cluster.add_workers(workers, wrapper)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


def segment_cli(study, *options: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from coding_pipeline.cli import main; main()", "segment",
         str(study.root), *options], capture_output=True, text=True, timeout=timeout)


def sources(folder: Path, count: int, seconds: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [write_sample_video(folder / f"s{i}.mp4", seconds, width=320, height=180, seed=i,
                               flashes=[1.0]) for i in range(count)]


def frames_by_epoch(study) -> dict[tuple[str, int], tuple[list[int], float, float]]:
    clips = pd.read_csv(study.clips_csv)
    return {(row.dyad_id, row.epoch_index): (decode_clip(study.root / row.file).indices,
                                             row.start_s, row.end_s)
            for row in clips.itertuples()}


def test_two_worker_cluster_cuts_the_frames_of_a_local_run(tmp_path, make_cluster):
    videos = sources(tmp_path / "videos", 4, 3.0)
    rows = [f"D{i},T1,A,{video},," for i, video in enumerate(videos)]
    local = make_study(tmp_path / "local", rows, epoch=2.0)
    assert segment_study(local, workers=1, progress=False).problems == []
    shared = make_study(tmp_path / "shared", rows, epoch=2.0)
    cluster = make_cluster(2)

    run = segment_cli(shared, "--scheduler", cluster.address)
    assert run.returncode == 0, run.stderr
    assert "4 clips written" not in run.stdout and "8 clips written from 4 sessions" in run.stdout
    for i in range(4):  # progress per session, as in a local run
        assert f"finished D{i}/T1" in run.stderr
    assert frames_by_epoch(shared) == frames_by_epoch(local)
    assert not list((shared.root / ".segment").glob("cluster-*"))  # the run's marker is gone

    before, ids = stamps(local), list(pd.read_csv(local.clips_csv)["clip_id"])
    again = segment_cli(local, "--scheduler", cluster.address, "--quiet")  # cut locally:
    assert again.returncode == 0 and "4 sessions already complete" in again.stdout  # skipped
    assert list(pd.read_csv(local.clips_csv)["clip_id"]) == ids and stamps(local) == before


def start_and_wait_for_a_clip(study, address: str) -> tuple[subprocess.Popen, dict]:
    """Start the CLI client; return it once a session has a finished clip (and their ids)."""
    client = subprocess.Popen(
        [sys.executable, "-c", "from coding_pipeline.cli import main; main()", "segment",
         str(study.root), "--scheduler", address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    seen: dict[str, list[str]] = {}
    while time.monotonic() - started < 120 and client.poll() is None:
        for manifest in (study.root / ".segment").glob("*.json"):
            try:
                saved = json.loads(manifest.read_text())
            except (OSError, ValueError):
                continue
            if saved.get("rows"):
                seen[manifest.name] = saved["ids"]
        if seen:
            break
        time.sleep(0.05)
    assert seen and client.poll() is None, "no session was seen in progress"
    return client, seen


def check_whole(study, seen: dict[str, list[str]], sessions: int) -> None:
    """Every frame once, ids planned before the interruption kept, nothing half written."""
    clips = pd.read_csv(study.clips_csv)
    for dyad, group in clips.groupby("dyad_id"):
        shown = [i for row in group.itertuples()
                 for i in decode_clip(study.root / row.file).indices]
        assert shown == list(range(600)), dyad
    assert len(set(clips["clip_id"])) == len(clips) == 10 * sessions
    assert {tuple(ids) for ids in seen.values()} <= {
        tuple(group.sort_values("epoch_index")["clip_id"]) for _, group in clips.groupby("dyad_id")}
    assert sorted(p.name for p in study.clips_dir.iterdir()) == sorted(
        Path(f).name for f in clips["file"])


def test_a_worker_killed_mid_session_then_a_rerun(tmp_path, make_cluster):
    videos = sources(tmp_path / "videos", 2, 20.0)
    study = make_study(tmp_path / "study", [f"D{i},T1,A,{v},," for i, v in enumerate(videos)],
                       epoch=2.0)
    cluster = make_cluster(2)
    client, seen = start_and_wait_for_a_clip(study, cluster.address)
    cluster.workers[0].kill()  # SIGKILL: the worker is lost with its session half cut
    out, err = client.communicate(timeout=240)
    assert client.returncode == 0, err
    assert "2 sessions" in out and "0 rows failed" in out
    check_whole(study, seen, 2)  # another worker resumed the lost session

    before = stamps(study)
    again = segment_cli(study, "--scheduler", cluster.address, "--quiet")
    assert again.returncode == 0 and "2 sessions already complete" in again.stdout
    assert stamps(study) == before


def _can_hide(folder: Path) -> bool:
    """Whether a process can be given its own view of the filesystem (root, unshare)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs",
                            "none", str(folder)], capture_output=True)
    return probe.returncode == 0


def test_a_worker_that_cannot_see_the_study_folder_is_a_clear_error(tmp_path, make_cluster):
    hidden = tmp_path / "shared"
    hidden.mkdir()
    if not _can_hide(hidden):
        pytest.skip("needs unshare and mount (root) to give a worker its own filesystem view")
    videos = sources(hidden / "videos", 1, 1.0)
    study = make_study(hidden / "study", [f"D1,T1,A,{videos[0]},,"], epoch=2.0)
    # this worker's machine has no such share: an empty folder where the study should be
    wrapper = ["unshare", "-m", "--propagation", "private", "sh", "-c",
               f'mount -t tmpfs none "{hidden}" && exec "$0" "$@"']
    cluster = make_cluster(1, wrapper)
    started = time.monotonic()
    run = segment_cli(study, "--scheduler", cluster.address, timeout=120)
    assert time.monotonic() - started < 60  # an error, not a hang
    assert run.returncode == 1
    line = run.stderr.strip().splitlines()[-1]
    assert "Dask worker tcp://127.0.0.1:" in line and "cannot see the study folder" in line
    assert "Traceback" not in run.stderr and not study.clips_csv.exists()


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    study = make_study(tmp_path / "study", ["D1,T1,A,none.mp4,,"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = segment_cli(study, "--scheduler", f"tcp://127.0.0.1:{port}", timeout=60)
    assert run.returncode == 1 and "cannot reach the Dask scheduler" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_killed_client_then_a_rerun_while_the_worker_still_cuts(tmp_path, make_cluster):
    videos = sources(tmp_path / "videos", 1, 20.0)
    study = make_study(tmp_path / "study", [f"D0,T1,A,{videos[0]},,"], epoch=2.0)
    cluster = make_cluster(1)
    client, seen = start_and_wait_for_a_clip(study, cluster.address)
    client.kill()  # the worker keeps cutting the session it was given
    client.communicate()
    run = segment_cli(study, "--scheduler", cluster.address, "--quiet")  # waits for it
    assert run.returncode == 0, run.stderr
    assert "from 1 session;" in run.stdout and "0 rows failed" in run.stdout
    check_whole(study, seen, 1)
