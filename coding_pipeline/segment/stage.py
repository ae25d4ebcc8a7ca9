"""The segment stage: `segment_study` plans the sessions' jobs, tidies clips.csv, has a Runner
cut the sessions and writes clips.csv after each (see the package docstring for the rules)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.segment.clips import (
    drop_stale,
    pushed_clip_ids,
    read_clip_table,
    relabel_sessions,
    replace_session,
    require_clip_settings,
    table_keys,
)
from coding_pipeline.segment.cluster import DaskCluster
from coding_pipeline.segment.jobs import (
    SegmentReport,
    SessionJob,
    SessionOutcome,
    listed_sessions,
    make_job,
    manifest_path,
    recut_notes,
)
from coding_pipeline.segment.lock import segment_lock
from coding_pipeline.segment.progress import ProgressDisplay
from coding_pipeline.segment.runner import LocalPool, Runner
from coding_pipeline.study import (
    Session,
    Study,
    read_sessions,
    remove_clip_file,
    write_clip_key,
    write_json_atomic,
)


def segment_study(study: Study, epoch_seconds: float | None = None, workers: int | None = None,
                  progress: bool = True, scheduler: str | None = None) -> SegmentReport:
    """Cut every session of sessions.csv into clips; see the package docstring.

    With `scheduler` (tcp://HOST:PORT) the sessions run on that Dask cluster (cluster.py).
    """
    epoch = epoch_seconds if epoch_seconds is not None else study.config.epoch_seconds
    if not 0 < epoch < float("inf"):
        raise PipelineError(f"--epoch {epoch:g}: the epoch must be more than 0 seconds.")
    if scheduler is not None:  # workers elsewhere need paths that do not depend on our cwd
        study = Study(root=study.root.resolve(), config=study.config)
    with segment_lock(study):
        require_clip_settings(study, given_epoch=epoch_seconds is not None)
        report = _segment(study, epoch, _runner(study, workers, scheduler), progress)
    configured = study.config.epoch_seconds
    if epoch != configured:
        report.notes.append(
            f"clips were cut with --epoch {epoch:g} but study.toml says epoch_seconds = "
            f"{configured:g}: set epoch_seconds = {epoch:g} in {study.toml_path} so later runs "
            "cut the same clips.")
    return report


def _runner(study: Study, workers: int | None, scheduler: str | None) -> Runner:
    """The Dask cluster at `scheduler`, else this machine's processes."""
    if scheduler is not None:
        return DaskCluster(scheduler, study.root)
    count = workers or study.config.workers or os.cpu_count() or 1
    return LocalPool(count, study.root / ".segment" / "workers.lock")


def _segment(study: Study, epoch: float, runner: Runner, progress: bool) -> SegmentReport:
    """Plan and tidy, then record each session's outcome as the runner yields it."""
    sessions, problems = read_sessions(study)
    if not sessions and not problems:
        raise PipelineError(
            f"{study.sessions_csv}: no sessions listed in sessions.csv; add one row per "
            "recorded session (dyad_id,timepoint,arm,video,start,end) and rerun.")
    report = SegmentReport(problems=list(problems))
    table, jobs = _plan_and_tidy(study, sessions, epoch, report)
    report.notes.extend(recut_notes(jobs))
    display = ProgressDisplay(len(jobs)) if progress else None
    order = {job.key: job.session.row for job in jobs}
    for outcome in runner.run(jobs, display):
        if display is not None:
            display.finish(outcome.key, outcome.status)
        table = _record(study, table, outcome, order, report)
    if display is not None:
        display.close()
    report.problems.sort(key=_row_number)
    return report


def _plan_and_tidy(study: Study, sessions: list[Session], epoch: float,
                   report: SegmentReport) -> tuple[pd.DataFrame, list[SessionJob]]:
    """clips.csv with relabelled sessions' clips moved and removed sessions' clips dropped
    (written back when that changed it), and every session's job planned against it."""
    table = read_clip_table(study)
    pushed = pushed_clip_ids(study)
    jobs = [make_job(study, session, epoch, table, pushed) for session in sessions]
    listed, complete_keys = listed_sessions(study)
    tidied = relabel_sessions(table, jobs, listed, report.notes)
    tidied = drop_stale(study, tidied, listed if complete_keys else None, pushed, report)
    if not tidied.equals(table):
        gone = table_keys(table) - table_keys(tidied)
        table = tidied
        write_clip_key(study, table)
        for key in gone:  # relabelled: the clips are the other session's now
            manifest_path(study, key).unlink(missing_ok=True)
        jobs = [make_job(study, session, epoch, table, pushed) for session in sessions]
    return table, jobs


def _record(study: Study, table: pd.DataFrame, outcome: SessionOutcome,
            order: dict[tuple[str, str], int], report: SegmentReport) -> pd.DataFrame:
    """Add a session's outcome to the report; a cut session's clips replace its old ones in
    clips.csv (written at once) and its manifest is marked complete."""
    if outcome.status == "failed":
        report.problems.append(outcome.problem or "failed")
        return table
    report.warnings.extend(outcome.warnings)
    if outcome.status == "skipped":
        report.sessions_skipped += 1
        return table
    table = replace_session(table, outcome, order)
    write_clip_key(study, table)
    for clip_id, name in outcome.replaced:
        if refused := remove_clip_file(study, clip_id, name):
            report.warnings.append(refused + ".")
    _mark_complete(manifest_path(study, outcome.key))
    report.sessions_done += 1
    report.clips_written += outcome.clips_written
    return table


def _mark_complete(manifest: Path) -> None:
    """Keep a finished session's manifest as a second record of its clips (see study.py)."""
    try:
        saved = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    write_json_atomic(manifest, {**saved, "complete": True})


def _row_number(problem: str) -> int:
    """The sessions.csv row a problem is about (0 if none), to list problems in row order."""
    match = re.match(r"sessions\.csv row (\d+)", problem)
    return int(match.group(1)) if match else 0
