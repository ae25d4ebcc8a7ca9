"""The one file-lock helper (segment/lock.py) and the study's segment lock built on it."""

from __future__ import annotations

import os
import time

import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.segment import lock
from coding_pipeline.study import init_study


def test_a_lock_held_elsewhere_refuses_at_once_and_frees_when_released(tmp_path):
    path = tmp_path / "lock"
    with open(path, "a+") as holder, open(path, "a+") as other:  # two opens: two owners
        lock.lock_file(holder)
        with pytest.raises(BlockingIOError):
            lock.lock_file(other, wait=False)
        lock.unlock_file(holder)
        lock.lock_file(other, wait=False)


@pytest.mark.skipif(not lock.SHARED_LOCKS, reason="shared locks need fcntl")
def test_shared_holders_keep_out_an_exclusive_lock_until_they_close(tmp_path):
    path = tmp_path / "workers.lock"
    first, second = lock.hold_shared(path), lock.hold_shared(path)  # both hold it at once
    with open(path, "a+") as run:
        with pytest.raises(BlockingIOError):
            lock.lock_file(run, wait=False)
        first.close()
        with pytest.raises(BlockingIOError):
            lock.lock_file(run, wait=False)
        second.close()
        lock.lock_file(run, wait=False)


@pytest.mark.skipif(not lock.SHARED_LOCKS, reason="shared locks need fcntl")
def test_a_run_waits_for_old_workers_then_says_which_file_they_hold(tmp_path, monkeypatch):
    path = tmp_path / "workers.lock"
    worker = lock.hold_shared(path)
    monkeypatch.setattr(lock, "WORKERS_GONE_WAIT", 0.3)
    started = time.monotonic()
    with pytest.raises(PipelineError, match="still running") as refused:
        lock.wait_for_old_workers(path)
    assert time.monotonic() - started >= 0.3
    assert str(path) in str(refused.value)
    worker.close()
    lock.wait_for_old_workers(path)  # no worker left: at once


def test_one_segment_run_at_a_time_names_the_holder(tmp_path):
    study = init_study(tmp_path / "study", name="t")
    with lock.segment_lock(study):
        assert (study.root / ".segment" / "lock").read_text() == str(os.getpid())
        with pytest.raises(PipelineError) as refused, lock.segment_lock(study):
            pass
    assert str(refused.value) == (f"another `segment` is running on this study (pid "
                                  f"{os.getpid()}); wait for it to finish.")
    with lock.segment_lock(study):  # released on exit
        pass
