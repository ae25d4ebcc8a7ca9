"""File locks: one helper over fcntl (POSIX) and msvcrt (Windows), and the stages' locks.

For each stage that runs sessions (`segment`, `motion`), in STUDY/.<stage>/:
- lock: one run at a time per study (`stage_lock`; `segment_lock` for segment);
- workers.lock: held shared by each local worker process while it lives, so a new run waits
  for the workers of a killed one (`hold_shared`, `wait_for_old_workers`);
- <session>.lock: one Dask task at a time per session (`session_lock`).

The locks are advisory and released when their file is closed or their process dies.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import Study

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

SHARED_LOCKS = fcntl is not None  # msvcrt has no shared locks (and no flock to wait on)
WORKERS_GONE_WAIT = 60.0  # seconds a new run waits for the workers of a killed one to stop


def lock_file(handle: IO[str], *, wait: bool = True, shared: bool = False) -> None:
    """Lock an open file, exclusively unless `shared` (POSIX only; see SHARED_LOCKS).

    Without `wait`, raise BlockingIOError at once if another process holds the lock.
    """
    if fcntl is not None:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        fcntl.flock(handle, mode if wait else mode | fcntl.LOCK_NB)
        return
    if shared:
        raise NotImplementedError("shared file locks need fcntl (not on Windows)")
    handle.seek(0)  # msvcrt locks bytes from the file's position: always the first one
    if wait:
        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        return
    try:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        raise BlockingIOError from None


def unlock_file(handle: IO[str]) -> None:
    """Release a lock taken with `lock_file` before the file is closed."""
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        return
    handle.seek(0)
    msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)


def segment_lock(study: Study) -> AbstractContextManager[None]:
    """Hold STUDY/.segment/lock for one `segment` run (released on exit, also on a crash)."""
    return stage_lock(study, "segment")


@contextmanager
def stage_lock(study: Study, stage: str) -> Iterator[None]:
    """Hold STUDY/.<stage>/lock for one run of the `stage` command (segment, motion), then
    wait for the worker processes of a killed earlier run to stop."""
    folder = study.root / f".{stage}"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+", encoding="utf-8") as handle:
        try:
            lock_file(handle, wait=False)
        except BlockingIOError:
            handle.seek(0)
            try:
                pid = handle.read().strip() or "unknown"
            except OSError:
                pid = "unknown"
            raise PipelineError(
                f"another `{stage}` is running on this study (pid {pid}); wait for it to finish."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        wait_for_old_workers(folder / "workers.lock", stage)
        yield


def wait_for_old_workers(path: Path, stage: str = "segment") -> None:
    """Wait until no worker of an earlier run holds STUDY/.<stage>/workers.lock.

    Workers hold it (shared) while they live; those of a killed run exit within a second
    (see `runner.LocalPool`), so their clips cannot race this run's.
    """
    if not SHARED_LOCKS:  # Windows: the workers still watch their parent
        return
    with open(path, "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + WORKERS_GONE_WAIT
        while True:
            try:
                lock_file(handle, wait=False)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PipelineError(
                        f"worker processes of an earlier `{stage}` run are still running "
                        f"(they hold {path}); wait for them to stop, then rerun.") from None
                time.sleep(0.1)
        unlock_file(handle)


def hold_shared(path: Path) -> IO[str] | None:
    """Open `path` and hold a shared lock on it until the returned file is closed or the
    process ends; None (nothing held) where shared locks do not exist (Windows)."""
    if not SHARED_LOCKS:
        return None
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115
    lock_file(handle, shared=True)
    return handle


@contextmanager
def session_lock(path: Path) -> Iterator[None]:
    """Wait for an exclusive lock on one session (held until the task ends or its worker dies)."""
    with open(path, "a+", encoding="utf-8") as handle:
        lock_file(handle)
        yield
