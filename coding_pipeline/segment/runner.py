"""Where sessions run: the `Runner` interface and the local one (this machine's processes).

A runner takes the planned jobs and yields each session's outcome as it completes; the
orchestration (stage.py) writes clips.csv after each. The Dask cluster is in cluster.py.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from multiprocessing import get_context
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Protocol

from coding_pipeline.segment.jobs import SessionJob, SessionOutcome
from coding_pipeline.segment.lock import hold_shared
from coding_pipeline.segment.progress import ProgressDisplay
from coding_pipeline.segment.worker import process_session


class Runner(Protocol):
    """Runs sessions' jobs somewhere, showing their progress on `display` when given."""

    def run(self, jobs: list[SessionJob],
            display: ProgressDisplay | None) -> Iterator[SessionOutcome]:
        """Yield each session's outcome as it completes (in any order)."""
        ...


class LocalPool:
    """Sessions in worker processes of this machine, `workers` at a time (in this process
    when one worker or one session). The cores are shared among the sessions running at once.

    Each worker holds STUDY/.segment/workers.lock (shared) while it lives and exits when this
    process dies, so a new run never races the workers of a killed one (lock.py).
    """

    def __init__(self, workers: int, lock_path: Path) -> None:
        self.workers = workers
        self.lock_path = lock_path

    def run(self, jobs: list[SessionJob],
            display: ProgressDisplay | None) -> Iterator[SessionOutcome]:
        if self.workers <= 1 or len(jobs) <= 1:
            return _in_this_process(jobs, display)
        return self._in_processes(jobs, display)

    def _in_processes(self, jobs: list[SessionJob],
                      display: ProgressDisplay | None) -> Iterator[SessionOutcome]:
        at_once = min(self.workers, len(jobs))
        threads = max(1, (os.cpu_count() or 1) // at_once)  # the cores shared by the sessions
        jobs = [replace(job, settings=replace(job.settings, threads=threads)) for job in jobs]
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
                pending = {pool.submit(_process_in_worker, job, queue) for job in jobs}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()
            if queue is not None:
                queue.put(None)
                reader.join()


def _in_this_process(jobs: list[SessionJob],
                     display: ProgressDisplay | None) -> Iterator[SessionOutcome]:
    for job in jobs:
        yield process_session(job, display.update if display else None)


def _relay(queue, display: ProgressDisplay) -> None:
    """Show workers' progress messages until told to stop (or the queue is gone: Ctrl-C)."""
    try:
        while (message := queue.get()) is not None:
            display.update(*message)
    except (EOFError, OSError):
        return


def _process_in_worker(job: SessionJob, queue) -> SessionOutcome:
    report = None if queue is None else (lambda *message: queue.put(message))
    return process_session(job, report)


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
