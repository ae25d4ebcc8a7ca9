"""Where sessions run: the `Runner` interface and the local one (this machine's processes).

A runner takes the planned jobs and yields each session's outcome as it completes; the
orchestration (stage.py) writes clips.csv after each. The Dask cluster is in cluster.py.

Runners are generic over the stage (`Stage`: segment by default, motion/ for `motion`): its
per-session function gets a job and a progress callback and returns the session's outcome.
A job is picklable and has `key` ((dyad_id, timepoint)), `where` (the sessions.csv row, for
messages), `lock_path` (one Dask task at a time per session) and `with_threads(n)` (the same
job on n CPU threads); an outcome has `key` and `status`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any, Protocol

from coding_pipeline.segment.jobs import SessionOutcome
from coding_pipeline.segment.lock import hold_shared
from coding_pipeline.segment.progress import ProgressDisplay
from coding_pipeline.segment.worker import ReportProgress, process_session


@dataclass(frozen=True)
class Stage:
    """A command that runs per session: its per-session function and its folders."""

    name: str  # the command ("segment"); its run files live in STUDY/.<name>/
    process: Callable[[Any, ReportProgress | None], Any]  # module-level: sent to workers
    outcome: type  # its outcomes' class, made as outcome(key, status, problem=...)
    output: str  # the study's folder the sessions write into (workers must be able to)
    doing: str  # what a worker does to a session, for messages ("cutting")
    kept: str  # what a rerun keeps, for messages ("finished clips are kept")

    def failed(self, job: Any, problem: str) -> Any:
        """The outcome of a session that could not be run."""
        return self.outcome(job.key, "failed", problem=problem)


SEGMENT = Stage("segment", process_session, SessionOutcome, "clips", "cutting",
                "finished clips are kept")


class Runner(Protocol):
    """Runs sessions' jobs somewhere, showing their progress on `display` when given."""

    def run(self, jobs: list[Any], display: ProgressDisplay | None) -> Iterator[Any]:
        """Yield each session's outcome as it completes (in any order)."""
        ...


class LocalPool:
    """Sessions in worker processes of this machine, `workers` at a time (in this process
    when one worker or one session). The cores are shared among the sessions running at once.

    Each worker holds STUDY/.<stage>/workers.lock (shared) while it lives and exits when this
    process dies, so a new run never races the workers of a killed one (lock.py).
    """

    def __init__(self, workers: int, lock_path: Path, stage: Stage = SEGMENT) -> None:
        self.workers = workers
        self.lock_path = lock_path
        self.stage = stage

    def run(self, jobs: list[Any], display: ProgressDisplay | None) -> Iterator[Any]:
        if self.workers <= 1 or len(jobs) <= 1:
            return _in_this_process(self.stage, jobs, display)
        return self._in_processes(jobs, display)

    def _in_processes(self, jobs: list[Any], display: ProgressDisplay | None) -> Iterator[Any]:
        at_once = min(self.workers, len(jobs))
        threads = max(1, (os.cpu_count() or 1) // at_once)  # the cores shared by the sessions
        jobs = [job.with_threads(threads) for job in jobs]
        context = get_context("spawn")
        watch = (os.getpid(), str(self.lock_path))
        manager = SyncManager(ctx=context)
        manager.start(_worker_start, (os.getpid(), None))
        with manager:
            queue = manager.Queue() if display else None
            reader = None
            if display is not None:
                reader = threading.Thread(target=_relay, args=(queue, display), daemon=True)
                reader.start()
            with ProcessPoolExecutor(max_workers=at_once, mp_context=context,
                                     initializer=_worker_start, initargs=watch) as pool:
                pending = {pool.submit(_process_in_worker, self.stage.process, job, queue)
                           for job in jobs}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()
            if queue is not None:
                queue.put(None)
                reader.join()


def _in_this_process(stage: Stage, jobs: list[Any],
                     display: ProgressDisplay | None) -> Iterator[Any]:
    for job in jobs:
        yield stage.process(job, display.update if display else None)


def _relay(queue, display: ProgressDisplay) -> None:
    """Show workers' progress messages until told to stop (or the queue is gone: Ctrl-C)."""
    try:
        while (message := queue.get()) is not None:
            display.update(*message)
    except (EOFError, OSError):
        return


def _process_in_worker(process: Callable[[Any, ReportProgress | None], Any], job: Any,
                       queue) -> Any:
    report = None if queue is None else (lambda *message: queue.put(message))
    return process(job, report)


_WORKER_LOCK = None  # a worker's open workers.lock, held while it lives


def _worker_start(parent: int, lock_path: str | None) -> None:
    """In each worker process: hold workers.lock (shared) and exit when the parent is gone."""
    global _WORKER_LOCK
    if lock_path is not None:
        _WORKER_LOCK = hold_shared(Path(lock_path))
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """Exit this process within a fraction of a second of its parent's death (kill -9)."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)
