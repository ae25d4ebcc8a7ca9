"""The motion stage: sessions.csv + rois.csv -> motion/<session>.csv per session.

`motion_study` keeps the guarantees of `segment`: one run at a time per study (a lock on
STUDY/.motion/lock), resumable (a session whose record holds the fingerprint of unchanged
inputs is skipped; see jobs.py), progress per session on stderr, sessions in parallel on this
machine (`workers`) or on a Dask cluster (`scheduler`), and one line per failed session while
the others are still measured. The files of a session no longer in sessions.csv are removed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from coding_pipeline.errors import PipelineError
from coding_pipeline.motion.files import motion_dir
from coding_pipeline.motion.jobs import (
    RUN_DIR,
    MotionJob,
    MotionOutcome,
    MotionReport,
    make_motion_job,
    motion_settings,
)
from coding_pipeline.motion.rois import Roi, validate_rois
from coding_pipeline.motion.worker import measure_session
from coding_pipeline.segment.cluster import DaskCluster
from coding_pipeline.segment.jobs import listed_sessions, session_where
from coding_pipeline.segment.lock import stage_lock
from coding_pipeline.segment.progress import ProgressDisplay
from coding_pipeline.segment.runner import LocalPool, Runner, Stage
from coding_pipeline.study import Study, read_sessions, read_table

MOTION = Stage("motion", measure_session, MotionOutcome, "motion", "measuring",
               "finished sessions are kept")
ROIS_CSV = "rois.csv"


def motion_study(study: Study, workers: int | None = None, progress: bool = True,
                 scheduler: str | None = None) -> MotionReport:
    """Measure every session of sessions.csv that lacks a complete motion series.

    With `scheduler` (tcp://HOST:PORT) the sessions run on that Dask cluster's workers, which
    must see the study folder at the same path.
    """
    if scheduler is not None:  # workers elsewhere need paths that do not depend on our cwd
        study = Study(root=study.root.resolve(), config=study.config)
    with stage_lock(study, MOTION.name):
        return _run(study, _runner(study, workers, scheduler), progress)


def _runner(study: Study, workers: int | None, scheduler: str | None) -> Runner:
    """The Dask cluster at `scheduler`, else this machine's processes."""
    if scheduler is not None:
        return DaskCluster(scheduler, study.root, stage=MOTION)
    count = workers or study.config.workers or os.cpu_count() or 1
    return LocalPool(count, study.root / RUN_DIR / "workers.lock", MOTION)


def _run(study: Study, runner: Runner, progress: bool) -> MotionReport:
    sessions, problems = read_sessions(study)
    if not sessions and not problems:
        raise PipelineError(
            f"{study.sessions_csv}: no sessions listed in sessions.csv; add one row per "
            "recorded session (dyad_id,timepoint,arm,video,start,end) and rerun.")
    report = MotionReport(problems=list(problems))
    boxes = read_rois(study, report.warnings)
    jobs = _plan(study, sessions, boxes, report)
    _remove_stale(study, report)
    display = ProgressDisplay(len(jobs)) if progress else None
    for outcome in runner.run(jobs, display):
        if display is not None:
            display.finish(outcome.key, outcome.status)
        _record(outcome, report)
    if display is not None:
        display.close()
    report.problems.sort(key=_row_number)
    return report


def read_rois(study: Study, warnings: list[str]) -> dict[tuple[str, str], dict[str, Roi]]:
    """STUDY/rois.csv validated, by session; its overlap warnings added to `warnings`."""
    path = study.root / ROIS_CSV
    if not path.is_file():
        raise PipelineError(
            f"{path} not found: motion is measured inside a box per person. Draw the boxes "
            f"with `coding-pipeline rois push {study.root}` and `rois pull`, or write "
            f"{ROIS_CSV} by hand with the columns dyad_id,timepoint,role,x,y,w,h (role "
            "caregiver, child or background; x, y, w, h as fractions of the displayed picture).")
    validated = validate_rois(read_table(path, [], "write it or pull it"), ROIS_CSV)
    warnings.extend(validated.warnings)
    return validated.by_session()


def _plan(study: Study, sessions: list, boxes: dict[tuple[str, str], dict[str, Roi]],
          report: MotionReport) -> list[MotionJob]:
    """A job per session with ROIs; a problem for each session without them, and for a
    session whose file name another session's takes on a case-blind disk."""
    settings = motion_settings(study.config)
    jobs: list[MotionJob] = []
    names: dict[str, MotionJob] = {}
    for session in sessions:
        where = session_where(study, session)
        rois = boxes.get((session.dyad_id, session.timepoint))
        if rois is None:
            report.problems.append(_no_rois(study, where, session.dyad_id, session.timepoint))
            continue
        job = make_motion_job(study, session, rois, settings, where)
        other = names.get(job.csv_path.name.casefold())
        if other is not None:
            report.problems.append(
                f"{where}: its motion file would be {job.csv_path.name}, the same as that of "
                f"{other.where} on disks that ignore case; make the dyad_id or timepoint differ "
                "by more than case.")
            continue
        names[job.csv_path.name.casefold()] = job
        jobs.append(job)
    return jobs


def _no_rois(study: Study, where: str, dyad_id: str, timepoint: str) -> str:
    return (f"{where}: dyad_id={dyad_id} timepoint={timepoint} has no boxes in {ROIS_CSV}: "
            f"draw them (`coding-pipeline rois push {study.root}`, then `rois pull`), or add a "
            f"caregiver and a child row for it to {ROIS_CSV} (dyad_id,timepoint,role,x,y,w,h: "
            "fractions of the displayed picture).")


def _remove_stale(study: Study, report: MotionReport) -> None:
    """Remove the files of sessions no longer in sessions.csv (when every row names its
    session, so a session cannot hide behind a bad row)."""
    folder = motion_dir(study)
    listed, every_row_named = listed_sessions(study)
    if not every_row_named or not folder.is_dir():
        return
    for record in sorted(folder.glob("*.json")):
        key = _record_key(record)
        if key is None or key in listed:
            continue
        csv_path = record.with_suffix(".csv")
        for path in (csv_path, csv_path.with_name(f".{csv_path.name}.rows"), record):
            path.unlink(missing_ok=True)
        report.notes.append(f"removed {csv_path.name}: dyad_id={key[0]} timepoint={key[1]} is "
                            "no longer in sessions.csv.")


def _record_key(path: Path) -> tuple[str, str] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return str(record["dyad_id"]), str(record["timepoint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record(outcome: MotionOutcome, report: MotionReport) -> None:
    if outcome.status == "failed":
        report.problems.append(outcome.problem or "failed")
        return
    report.warnings.extend(outcome.warnings)
    if outcome.status == "skipped":
        report.sessions_skipped += 1
    else:
        report.sessions_done += 1


def _row_number(problem: str) -> int:
    """The sessions.csv row a problem is about (0 if none), to list problems in row order."""
    match = re.match(r"sessions\.csv row (\d+)", problem)
    return int(match.group(1)) if match else 0

