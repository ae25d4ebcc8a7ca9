"""Segmenting on a Dask distributed cluster: `coding-pipeline segment STUDY --scheduler ADDR`.

The client (this process) plans the sessions, holds the study's segment lock and writes
clips.csv; each session runs as one task on a worker, which reads the sources and writes the
clips and the session's manifest on the shared filesystem at the same paths (so clip ids and
frames are those of a local run, and a rerun resumes a session wherever it was cut).

- Before anything is sent, every worker must see a marker file the client writes into
  STUDY/.segment/; a worker that cannot is named in a one-line error (also a worker that joins
  later: its sessions fail with that message instead of writing elsewhere).
- A worker lost mid-session: the scheduler gives the session to another worker, which resumes
  it from its manifest. A session that kills workers again and again fails with a message.
- A killed client: the scheduler forgets its sessions; a session still being cut on a worker
  holds a lock on its manifest, so the next run's task for it waits for it and then reuses
  what it wrote (never two writers on one session).
- Each session runs on one core (one thread of its worker): start workers with
  `--nthreads` = the cores they may use (Dask's default, one per core).
- No worker (at the start or all lost): a clear error after WORKER_PATIENCE seconds, no hang.
Progress reaches the client as Dask events, shown per session as in a local run.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coding_pipeline.errors import PipelineError
from coding_pipeline.segment.lock import session_lock
from coding_pipeline.segment.progress import ProgressDisplay
from coding_pipeline.segment.runner import SEGMENT, Stage

CONNECT_SECONDS = 10
WORKER_PATIENCE = 60.0  # seconds to wait for a worker to be there


class DaskCluster:
    """Sessions as tasks on the workers of the Dask scheduler at `address` (tcp://HOST:PORT);
    `root` is the study folder, at the same absolute path on every worker. `stage` says what a
    task does to its session (runner.Stage: segment by default)."""

    def __init__(self, address: str, root: Path, patience: float = WORKER_PATIENCE,
                 stage: Stage = SEGMENT) -> None:
        self.address = address
        self.root = root
        self.patience = patience
        self.stage = stage

    def run(self, jobs: list[Any], display: ProgressDisplay | None) -> Iterator[Any]:
        """Yield each session's outcome as the cluster completes it."""
        distributed = _distributed()
        client = _connect(distributed, self.address)
        token = secrets.token_hex(8)
        name = self.stage.name
        marker = self.root / f".{name}" / f"cluster-{token}"
        marker.write_text(f"{socket.gethostname()} {os.getpid()}\n", encoding="utf-8")
        try:
            _wait_for_workers(client, self.address, self.patience)
            _check_workers(client, self.root, marker, self.stage.output)
            topic = f"coding-pipeline-{name}-{token}"
            if display is not None:
                client.subscribe_topic(topic, lambda event: display.update(
                    tuple(event[1][0]), *event[1][1:]))
            futures = {
                client.submit(run_session, job, str(marker), topic if display else None,
                              self.stage, key=f"{name}-{job.key[0]}-{job.key[1]}-{token}",
                              pure=False): job
                for job in jobs}
            yield from _gather(distributed, client, futures, self.address, self.patience,
                               self.stage)
        finally:
            client.close()
            marker.unlink(missing_ok=True)


def _distributed():
    """The `distributed` package, an optional extra (imported only when a cluster is used)."""
    try:
        import distributed
    except ImportError:
        raise PipelineError(
            "--scheduler needs Dask distributed: pip install 'coding-pipeline[cluster]' "
            "(on this machine and on the workers)") from None
    return distributed


def _connect(distributed, address: str):
    """A Dask client of the scheduler at `address`, or a clear error if it is not there."""
    try:
        _knock(address)
        return distributed.Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise PipelineError(
            f"cannot reach the Dask scheduler at {address} ({exc}); check the address and that "
            "`dask scheduler` is running there") from None


def _knock(address: str) -> None:
    """Fail at once (OSError) when nothing listens at a tcp:// address, instead of retrying."""
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    if address.startswith("tcp://") and port.isdigit():
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()


def _wait_for_workers(client, address: str, patience: float) -> None:
    try:
        client.wait_for_workers(1, timeout=patience)
    except TimeoutError:
        raise PipelineError(
            f"no Dask worker joined the scheduler at {address} within {patience:g} s; start "
            "workers (`dask worker " + address + "`) and rerun") from None


def _check_workers(client, root: Path, marker: Path, output: str) -> None:
    """Every worker must see the marker at the same path: else a one-line error naming it."""
    try:
        answers = client.run(_cannot_see, str(root), str(marker), output)
    except Exception as exc:  # a worker without coding-pipeline cannot unpickle the check
        raise PipelineError(
            f"a Dask worker could not run coding-pipeline's check ({type(exc).__name__}: {exc});"
            " install coding-pipeline[cluster], the same version, where the workers run") from None
    blind = {worker: why for worker, why in answers.items() if why}
    if blind:
        worker, why = sorted(blind.items())[0]
        others = f" (and {len(blind) - 1} more)" if len(blind) > 1 else ""
        raise PipelineError(
            f"Dask worker {worker}{others} cannot see the study folder {root} ({why}): mount "
            "the shared filesystem at the same path on every worker, or stop that worker")


def _cannot_see(root: str, marker: str, output: str = "clips") -> str:
    """Why this machine cannot use the study folder, or '' (runs on a worker)."""
    if not Path(root).is_dir():
        return "no such folder here"
    if not Path(marker).is_file():
        return (f"the folder here is not the client's: its {Path(marker).parent.name}/ lacks "
                "this run's marker")
    if not os.access(Path(root) / output, os.W_OK) and Path(root, output).exists():
        return f"{output}/ is not writable here"
    return ""


def _gather(distributed, client, futures: dict, address: str, patience: float,
            stage: Stage) -> Iterator[Any]:
    """Outcomes as sessions finish; a clear error if every worker is gone for `patience` s."""
    pending = set(futures)
    alone = 0.0
    while pending:
        try:
            with client.as_current():
                done, pending = distributed.wait(pending, timeout=5,
                                                 return_when="FIRST_COMPLETED")
        except TimeoutError:
            try:
                workers = client.nthreads()
            except Exception:  # the scheduler is gone too
                workers = {}
            alone = 0.0 if workers else alone + 5
            if alone >= patience:
                raise PipelineError(
                    f"every Dask worker of {address} is gone and none came back within "
                    f"{patience:g} s; start workers and rerun ({stage.kept} and "
                    "interrupted sessions resume)") from None
            continue
        for future in done:
            yield _outcome(future, futures[future], stage)


def _outcome(future, job: Any, stage: Stage) -> Any:
    try:
        return future.result()
    except Exception as exc:  # KilledWorker, a lost scheduler, a task that could not unpickle
        kind = type(exc).__name__
        if kind == "KilledWorker":
            why = (f"the Dask workers {stage.doing} it died again and again (out of memory, or "
                   f"killed?); rerun to resume it ({stage.kept})")
        else:
            why = (f"the cluster could not run it ({kind}: {exc}); check that the workers have "
                   f"coding-pipeline installed, then rerun ({stage.kept})")
        return stage.failed(job, f"{job.where}: {why}.")


def run_session(job: Any, marker: str, topic: str | None, stage: Stage = SEGMENT) -> Any:
    """A session's task on a worker: check the study folder is there, then run the stage's
    function on the session."""
    distributed = _distributed()
    worker = distributed.get_worker()
    root = Path(marker).parent.parent  # STUDY/.<stage>/cluster-<token>
    why = _cannot_see(str(root), marker, stage.output)
    if why:
        return stage.failed(job, (
            f"{job.where}: Dask worker {worker.address} cannot see the study folder "
            f"{root} ({why}); mount it at the same path on every worker."))
    report = None
    if topic is not None:
        def report(key, done, total, fps) -> None:
            worker.log_event(topic, [list(key), done, total, fps])
    # A worker thread is one core (Dask's --nthreads): the session decodes and encodes on it
    # alone, so a worker's sessions, and the workers sharing a machine, do not crowd each other.
    job = job.with_threads(1)
    with session_lock(job.lock_path):
        return stage.process(job, report)
