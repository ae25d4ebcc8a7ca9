"""The segment stage: sessions.csv -> clips/<clip_id>.mp4 + the clip key clips.csv.

Each session is decoded once and cut into epochs (see video/plan.py and video/cut.py);
sessions run in parallel processes. Work is never lost or repeated:
- clips.csv is rewritten (atomically) after each session completes;
- a session in progress has a manifest in STUDY/.segment/ with its planned clip ids and the
  clips completed so far, so a rerun after a crash reuses the ids and skips those clips;
- a rerun skips sessions whose clips are all there with the same source and epochs;
- a session whose clips were already handed to coders (listed in STUDY/batches/*.csv or
  rated in ratings.csv) is never re-cut with other epochs or times;
- one run at a time per study (a lock on STUDY/.segment/lock), and a rerun checks that each
  clip recorded as complete is whole (see video/probe.clip_is_complete) and re-cuts it if not;
- a corrected dyad id, timepoint or arm relabels the session's clips (same video and epochs:
  nothing re-encoded); clips of a session no longer in sessions.csv are removed unless they
  were given to coders (then they are kept, with a warning).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import (
    CLIP_COLUMNS,
    CLIP_ID,
    REQUIRED_SESSION_COLUMNS,
    Session,
    Study,
    StudyConfig,
    missing_clip_key,
    read_clips,
    read_sessions,
    read_table,
    remove_clip_file,
    write_clip_key,
    write_json_atomic,
)
from coding_pipeline.video.cut import (
    ClipJob,
    ClipResult,
    EncodeSettings,
    SourceError,
    cut_session,
)
from coding_pipeline.video.plan import PlanError, plan_epochs
from coding_pipeline.video.probe import clip_is_complete
from coding_pipeline.video.sources import probe_recording, source_label, video_parts

MAX_CLIPS_PER_SESSION = 20_000  # more means an epoch typed wrong (0.001 for 10)
WORKERS_GONE_WAIT = 60.0  # seconds a new run waits for the workers of a killed one to stop
EXTRA_COLUMNS = ["duration_s", "epoch_index", "session_row", "width", "height", "has_audio",
                 "plan", "source_fps", "repeated_frames"]
CLIPS_TABLE_COLUMNS = CLIP_COLUMNS + EXTRA_COLUMNS


@dataclass
class SegmentReport:
    """What a segment run did. `problems` are one line per failed sessions.csv row;
    `notes` say what the run changed besides cutting (relabelled, removed, re-cut)."""

    clips_written: int = 0
    sessions_done: int = 0
    sessions_skipped: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class SessionJob:
    """Everything a worker process needs to segment one session (picklable)."""

    session: Session
    where: str  # "sessions.csv row N (video as written there)"
    source: str  # as written in clips.csv
    plan: str  # the epoch settings, recorded per clip; a change means a re-cut
    epoch_seconds: float
    min_last_epoch: float
    settings: EncodeSettings
    clips_dir: Path
    manifest: Path
    existing: list[dict[str, str]]  # this session's rows already in clips.csv
    pushed: bool  # some existing clip is in a coder batch
    parts: list[Path] = field(default_factory=list)  # the recording's files, in order

    @property
    def key(self) -> tuple[str, str]:
        return (self.session.dyad_id, self.session.timepoint)


@dataclass
class SessionOutcome:
    key: tuple[str, str]
    status: str  # "done", "skipped" or "failed"
    rows: list[dict[str, Any]] = field(default_factory=list)
    clips_written: int = 0
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (clip id, file) to remove


def segment_study(study: Study, epoch_seconds: float | None = None, workers: int | None = None,
                  progress: bool = True, scheduler: str | None = None) -> SegmentReport:
    """Cut every session of sessions.csv into clips; see the module docstring.

    With `scheduler` (tcp://HOST:PORT) the sessions run on that Dask cluster (cluster.py).
    """
    epoch = epoch_seconds if epoch_seconds is not None else study.config.epoch_seconds
    if not 0 < epoch < float("inf"):
        raise PipelineError(f"--epoch {epoch:g}: the epoch must be more than 0 seconds.")
    if scheduler is not None:  # workers elsewhere need paths that do not depend on our cwd
        study = Study(root=study.root.resolve(), config=study.config)
    with segment_lock(study):
        _require_clip_settings(study, given_epoch=epoch_seconds is not None)
        report = _segment(study, epoch, workers, progress, scheduler)
    configured = study.config.epoch_seconds
    if epoch != configured:
        report.notes.append(
            f"clips were cut with --epoch {epoch:g} but study.toml says epoch_seconds = "
            f"{configured:g}: set epoch_seconds = {epoch:g} in {study.toml_path} so later runs "
            "cut the same clips.")
    return report


def _require_clip_settings(study: Study, given_epoch: bool) -> None:
    """Once clips exist, the settings that decide them must be in study.toml, not defaulted."""
    table = read_clip_table(study)
    if table.empty:
        return
    for section, key in StudyConfig.CLIP_SHAPING:
        if not study.config.missing(section, key) or (key == "epoch_seconds" and given_epoch):
            continue
        plans = {_plan_field(plan, {"epoch_seconds": "epoch"}.get(key, "min_last"))
                 for plan in table["plan"] if plan}
        used = next(iter(plans)) if len(plans) == 1 else None
        value = f"`{key} = {used}`" if used else f"{key} to the value the clips were cut with"
        raise PipelineError(
            f"{study.toml_path}: [segment] {key} is not set, and clips.csv holds "
            f"{len(table)} clips: set {value} under [segment] (defaults are not used once clips "
            "exist, so that no clip is cut again or deleted by mistake). Nothing was changed.")


def _lock_without_waiting(handle) -> None:
    """Take an exclusive lock on an open file; raise BlockingIOError if another process has it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            raise BlockingIOError from None
        return
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


@contextmanager
def segment_lock(study: Study) -> Iterator[None]:
    """Hold STUDY/.segment/lock for one `segment` run (released on exit, also on a crash)."""
    folder = study.root / ".segment"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+", encoding="utf-8") as handle:
        try:
            _lock_without_waiting(handle)
        except BlockingIOError:
            handle.seek(0)
            try:
                pid = handle.read().strip() or "unknown"
            except OSError:
                pid = "unknown"
            raise PipelineError(
                f"another `segment` is running on this study (pid {pid}); wait for it to finish."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _wait_for_old_workers(folder / "workers.lock")
        yield


def _wait_for_old_workers(path: Path) -> None:
    """Wait until no worker of an earlier run holds STUDY/.segment/workers.lock.

    Workers hold it (shared) while they live; those of a killed run exit within a second
    (see `_worker_start`), so their clips cannot race this run's.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the workers still watch their parent
        return
    with open(path, "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + WORKERS_GONE_WAIT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PipelineError(
                        "worker processes of an earlier `segment` run are still running "
                        f"(they hold {path}); wait for them to stop, then rerun.") from None
                time.sleep(0.1)
        fcntl.flock(handle, fcntl.LOCK_UN)


_WORKER_LOCK = None  # a worker's open workers.lock, held while it lives


def _worker_start(parent: int, lock_path: str | None) -> None:
    """In each worker process: hold workers.lock (shared) and exit when the parent is gone."""
    global _WORKER_LOCK
    if lock_path is not None:
        try:
            import fcntl
        except ImportError:
            pass
        else:
            _WORKER_LOCK = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115
            fcntl.flock(_WORKER_LOCK, fcntl.LOCK_SH)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """Exit this process within a fraction of a second of its parent's death (kill -9)."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def _segment(study: Study, epoch: float, workers: int | None, progress: bool,
             scheduler: str | None = None) -> SegmentReport:
    sessions, problems = read_sessions(study)
    if not sessions and not problems:
        raise PipelineError(
            f"{study.sessions_csv}: no sessions listed in sessions.csv; add one row per "
            "recorded session (dyad_id,timepoint,arm,video,start,end) and rerun.")
    report = SegmentReport(problems=list(problems))
    table = read_clip_table(study)
    pushed = pushed_clip_ids(study)
    jobs = [make_job(study, session, epoch, table, pushed) for session in sessions]
    listed, complete_keys = listed_sessions(study)
    tidied = relabel_sessions(table, jobs, listed, report.notes)
    tidied = _drop_stale(study, tidied, listed if complete_keys else None, pushed, report)
    if not tidied.equals(table):
        gone = _keys(table) - _keys(tidied)
        table = tidied
        write_clip_key(study, table)
        for key in gone:  # relabelled: the clips are the other session's now
            _manifest_path(study, key).unlink(missing_ok=True)
        jobs = [make_job(study, session, epoch, table, pushed) for session in sessions]
    report.notes.extend(recut_notes(jobs))
    count = workers or study.config.workers or os.cpu_count() or 1
    display = ProgressDisplay(len(jobs)) if progress else None
    order = {job.key: job.session.row for job in jobs}
    if scheduler is not None:
        from coding_pipeline.cluster import run_on_cluster
        outcomes = run_on_cluster(jobs, scheduler, study.root, display)
    else:
        outcomes = _run(jobs, count, display, study.root / ".segment" / "workers.lock")
    for outcome in outcomes:
        if display is not None:
            display.finish(outcome.key, outcome.status)
        if outcome.status == "failed":
            report.problems.append(outcome.problem or "failed")
            continue
        report.warnings.extend(outcome.warnings)
        if outcome.status == "skipped":
            report.sessions_skipped += 1
            continue
        table = _replace_session(table, outcome, order)
        write_clip_key(study, table)
        for clip_id, name in outcome.replaced:
            if refused := remove_clip_file(study, clip_id, name):
                report.warnings.append(refused + ".")
        _mark_complete(_manifest_path(study, outcome.key))
        report.sessions_done += 1
        report.clips_written += outcome.clips_written
    if display is not None:
        display.close()
    report.problems.sort(key=_row_number)
    return report


def _keys(table: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(table["dyad_id"], table["timepoint"], strict=True))


def _mark_complete(manifest: Path) -> None:
    """Keep a finished session's manifest as a second record of its clips (see study.py)."""
    try:
        saved = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    write_json_atomic(manifest, {**saved, "complete": True})


def listed_sessions(study: Study) -> tuple[set[tuple[str, str]], bool]:
    """Every (dyad_id, timepoint) on a row of sessions.csv, bad rows included, and whether
    every row has both (else a session's row cannot be told apart from a removed one)."""
    rows = read_table(study.sessions_csv, REQUIRED_SESSION_COLUMNS, "see `coding-pipeline init`")
    rows = rows.apply(lambda column: column.str.strip())
    rows = rows[(rows != "").any(axis=1)]
    named = (rows["dyad_id"] != "") & (rows["timepoint"] != "")
    keys = set(zip(rows.loc[named, "dyad_id"], rows.loc[named, "timepoint"], strict=True))
    return keys, bool(named.all())


def relabel_sessions(table: pd.DataFrame, jobs: list[SessionJob],
                     listed: set[tuple[str, str]], notes: list[str]) -> pd.DataFrame:
    """Clips whose session was relabelled in sessions.csv, given their new labels (pure).

    A session without clips takes over the clips of the same video cut with the same plan
    under a dyad/timepoint no longer in sessions.csv; a session whose arm changed gets it in
    its clips. Clip ids and files stay. One note per relabelled session.
    """
    table = table.copy()
    for job in jobs:
        session = job.session
        keys = pd.Series(list(zip(table["dyad_id"], table["timepoint"], strict=True)),
                         index=table.index, dtype=object)
        mine = keys == job.key
        same = (table["source"] == job.source) & (table["plan"] == job.plan)
        if not mine.any():
            moved = keys[same & ~keys.isin(listed)]
            if moved.empty:
                continue
            old = moved.iloc[0]
            rows = same & (keys == old)
            notes.append(f"{job.where}: relabelled {_clips(int(rows.sum()))} of {old[0]}/{old[1]}"
                         f" as {session.dyad_id}/{session.timepoint} (same video and epochs; "
                         "same clip ids, nothing re-encoded).")
        else:
            rows = same & mine & (table["arm"] != session.arm)
            if not rows.any():
                continue
            notes.append(f"{job.where}: arm of {_clips(int(rows.sum()))} changed from "
                         f"'{table.loc[rows, 'arm'].iloc[0]}' to '{session.arm}'.")
        table.loc[rows, ["dyad_id", "timepoint", "arm", "session_row"]] = [
            session.dyad_id, session.timepoint, session.arm, str(session.row)]
    return table


def _drop_stale(study: Study, table: pd.DataFrame, listed: set[tuple[str, str]] | None,
                pushed: set[str], report: SegmentReport) -> pd.DataFrame:
    """Remove clips of sessions no longer in sessions.csv unless given to coders (then warn).

    `listed` None (a row without dyad_id or timepoint) keeps everything this run.
    """
    if listed is None:
        return table
    keys = pd.Series(list(zip(table["dyad_id"], table["timepoint"], strict=True)),
                     index=table.index, dtype=object)
    for dyad, timepoint in sorted(set(keys[~keys.isin(listed)])):
        rows = table[keys.loc[table.index] == (dyad, timepoint)]
        given = [clip_id for clip_id in rows["clip_id"] if clip_id in pushed]
        if given:
            report.warnings.append(
                f"{_clips(len(rows))} of {dyad}/{timepoint} ({', '.join(rows['clip_id'])}) "
                f"{'is' if len(rows) == 1 else 'are'} "
                "kept in clips.csv although the session is no longer in sessions.csv, because "
                f"{len(given)} {'was' if len(given) == 1 else 'were'} given to coders: put its "
                "row back in sessions.csv if it was removed or relabelled by mistake, or leave "
                "these clips out of the analysis.")
            continue
        for clip_id, name in zip(rows["clip_id"], rows["file"], strict=True):
            if refused := remove_clip_file(study, clip_id, name):
                report.warnings.append(refused + ".")
        _manifest_path(study, (dyad, timepoint)).unlink(missing_ok=True)
        report.notes.append(f"removed {_clips(len(rows))} of {dyad}/{timepoint}: the session is no"
                            " longer in sessions.csv and none of its clips was given to coders.")
        table = table[keys.loc[table.index] != (dyad, timepoint)]
    return table.reset_index(drop=True)


def recut_notes(jobs: list[SessionJob]) -> list[str]:
    """One line per kind of change that makes this run re-cut sessions not given to coders."""
    reasons: dict[str, int] = {}
    for job in jobs:
        if job.pushed or not job.existing:
            continue
        old = job.existing[0]
        if old.get("source") != job.source:
            reason = "their video changed in sessions.csv"
        elif old.get("plan") != job.plan:
            before, after = _plan_field(old.get("plan", ""), "epoch"), f"{job.epoch_seconds:g}"
            reason = (f"epoch changed from {before} s to {after} s" if before != after
                      else "start, end or min_last_epoch changed")
        else:
            continue
        reasons[reason] = reasons.get(reason, 0) + 1
    return [f"re-cutting {count} session{'s' if count > 1 else ''}: {reason}."
            for reason, count in reasons.items()]


def _clips(count: int) -> str:
    return f"{count} clip{'' if count == 1 else 's'}"


def _plan_field(plan: str, name: str) -> str:
    """One setting (epoch, start, end, min_last) from a `plan` label."""
    fields = dict(part.partition("=")[::2] for part in plan.split(";") if "=" in part)
    return fields.get(name, "?")


def _row_number(problem: str) -> int:
    match = re.match(r"sessions\.csv row (\d+)", problem)
    return int(match.group(1)) if match else 0


def read_clip_table(study: Study) -> pd.DataFrame:
    """clips.csv as text (an empty table with our columns if no clip was cut yet), checked
    against its copies, manifests and batches (see `study.check_clip_key`)."""
    if not study.clips_csv.is_file():
        if problem := missing_clip_key(study):
            raise PipelineError(problem)
        return pd.DataFrame(columns=CLIPS_TABLE_COLUMNS)
    table = read_clips(study)
    for column in CLIPS_TABLE_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    return table


def pushed_clip_ids(study: Study) -> set[str]:
    """Clip ids already handed to coders: those in any STUDY/batches/*.csv or ratings.csv.

    Deliberately wider than `batches.load_assignments`: a batch .csv without its .json
    (a batch written by hand, or one cut short) still counts, so its clips are not re-cut.
    """
    ids: set[str] = set()
    for path in [*sorted((study.root / "batches").glob("*.csv")), study.ratings_csv]:
        if not path.is_file():
            continue
        batch = read_table(path, [], "", written=True)  # a damaged one stops segment
        if "clip_id" in batch.columns:
            ids.update(batch["clip_id"])
    return ids


def plan_label(epoch: float, session: Session, min_last: float) -> str:
    """The epoch settings of a session as recorded in clips.csv's `plan` column."""
    start = "" if session.start_s is None else f"{session.start_s:g}"
    end = "" if session.end_s is None else f"{session.end_s:g}"
    return f"epoch={epoch:g};start={start};end={end};min_last={min_last:g}"


def make_job(study: Study, session: Session, epoch: float, table: pd.DataFrame,
             pushed: set[str]) -> SessionJob:
    mine = table[(table["dyad_id"] == session.dyad_id) & (table["timepoint"] == session.timepoint)]
    existing = mine.to_dict("records")
    config = study.config
    parts = video_parts(study, session)
    return SessionJob(
        session=session, where=session_where(study, session), source=source_label(study, parts),
        plan=plan_label(epoch, session, config.min_last_epoch), epoch_seconds=epoch,
        min_last_epoch=config.min_last_epoch,
        settings=EncodeSettings(max_height=config.max_height), clips_dir=study.clips_dir,
        manifest=_manifest_path(study, (session.dyad_id, session.timepoint)),
        existing=existing, pushed=any(row["clip_id"] in pushed for row in existing),
        parts=parts,
    )


def session_where(study: Study, session: Session) -> str:
    """'sessions.csv row N (video)', the video named as written in sessions.csv."""
    try:
        video = session.video.relative_to(study.root).as_posix()
    except ValueError:
        video = str(session.video)
    return f"sessions.csv row {session.row} ({video})"


def _manifest_path(study: Study, key: tuple[str, str]) -> Path:
    digest = hashlib.sha1("\x1f".join(key).encode()).hexdigest()[:16]
    return study.root / ".segment" / f"{digest}.json"


def _replace_session(table: pd.DataFrame, outcome: SessionOutcome,
                     order: dict[tuple[str, str], int]) -> pd.DataFrame:
    dyad, timepoint = outcome.key
    keep = table[~((table["dyad_id"] == dyad) & (table["timepoint"] == timepoint))]
    new = pd.DataFrame(outcome.rows, dtype=str)
    merged = pd.concat([keep, new], ignore_index=True).fillna("")
    columns = CLIPS_TABLE_COLUMNS + [c for c in merged.columns if c not in CLIPS_TABLE_COLUMNS]
    merged = merged.reindex(columns=columns, fill_value="")
    keys = zip(merged["dyad_id"], merged["timepoint"], strict=True)
    rank = [order.get(key, 10**9) for key in keys]
    index = pd.to_numeric(merged["epoch_index"], errors="coerce").fillna(0)
    merged = merged.assign(_rank=rank, _index=index).sort_values(["_rank", "_index"], kind="stable")
    return merged.drop(columns=["_rank", "_index"]).reset_index(drop=True)


# ---------------------------------------------------------------- running sessions


def _run(jobs: list[SessionJob], workers: int, display: ProgressDisplay | None,
         lock_path: Path):
    """Yield each session's outcome as it completes, in-process or in worker processes."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield process_session(job, display.update if display else None)
        return
    at_once = min(workers, len(jobs))
    threads = max(1, (os.cpu_count() or 1) // at_once)  # the cores shared among the sessions
    jobs = [replace(job, settings=replace(job.settings, threads=threads)) for job in jobs]
    context = get_context("spawn")
    watch = (os.getpid(), str(lock_path))
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


def process_session(job: SessionJob, report=None) -> SessionOutcome:
    """Segment one session: skip it if complete, else cut what is missing.

    `report(key, slots_done, slots_total, fps)` receives progress now and then.
    """
    where = job.where
    outcome = SessionOutcome(job.key, "failed")
    changed = [row for row in job.existing
               if row.get("source") != job.source or row.get("plan") != job.plan]
    if job.existing and not changed and all(_intact(job, row) for row in job.existing):
        outcome.status = "skipped"
        return outcome
    if changed and job.pushed:
        outcome.problem = f"{where}: {_refusal(job, changed[0])}"
        return outcome
    try:
        return _cut(job, outcome, report)
    except (PipelineError, PlanError) as exc:
        outcome.problem = f"{where}: {exc}."
    except SourceError as exc:
        outcome.problem = (
            f"{where}: the video could not be decoded ({exc}); convert the file to MP4 "
            "(H.264/AAC) and rerun, and please report the file's kind to us.")
    except OSError as exc:
        outcome.problem = (
            f"{where}: its clips could not be written ({exc}); check that the study folder "
            "has free space and is writable, then rerun (finished clips are kept).")
    except Exception as exc:  # one odd failure must not stop the other sessions
        outcome.problem = (
            f"{where}: segmenting stopped on an unexpected error ({type(exc).__name__}: "
            f"{exc}); rerun (finished clips are kept) and report it to us if it happens again.")
    return outcome


def _refusal(job: SessionJob, old: dict[str, str]) -> str:
    """Why a session given to coders is not re-cut, and the setting that would match."""
    head = "its clips were already given to coders (batches/, ratings.csv)"
    if old.get("source") != job.source:
        return (f"{head} cut from {old.get('source')}; put that video back in sessions.csv "
                "(re-cutting would orphan their ratings).")
    plan = old.get("plan", "")
    epoch = _plan_field(plan, "epoch")
    if epoch != f"{job.epoch_seconds:g}":
        return (f"{head} cut with {epoch} s epochs, not {job.epoch_seconds:g} s: rerun with "
                f"--epoch {epoch}, or set epoch_seconds = {epoch} in study.toml.")
    start, end, min_last = (_plan_field(plan, name) for name in ("start", "end", "min_last"))
    if _plan_field(job.plan, "min_last") != min_last:
        return (f"{head} cut with min_last_epoch = {min_last}: set min_last_epoch = {min_last}"
                " in study.toml.")
    return (f"{head} cut with start '{start}' and end '{end}'; put those times back in "
            "sessions.csv (re-cutting would orphan their ratings).")


def _intact(job: SessionJob, row: dict[str, str]) -> bool:
    """Whether a clip recorded as complete is there and whole (opened, not decoded)."""
    def number(name: str) -> float | None:
        try:
            return float(row.get(name, ""))
        except ValueError:
            return None
    frames = number("frames")
    audio = {"yes": True, "no": False}.get(row.get("has_audio", ""))
    return frames is not None and clip_is_complete(
        job.clips_dir.parent / row["file"], int(frames), number("duration_s"), audio)


def _cut(job: SessionJob, outcome: SessionOutcome, report) -> SessionOutcome:
    """Probe, plan and cut a session that needs (some of) its clips made."""
    session = job.session
    where = job.where
    info = probe_recording(job.parts or [session.video])
    outcome.warnings.extend(f"{where}: {note}." for note in info.notes)
    _check_epoch(job, info)
    epochs = plan_epochs(info.frames, info.fps, job.epoch_seconds, session.start_s,
                         session.end_s, job.min_last_epoch)
    if info.cut_short:
        outcome.warnings.append(
            f"{where}: the file ends early: only {info.duration_s:.2f} s of its "
            f"{info.declared_s:.2f} s of picture are there (battery died or copy cut short?); "
            f"clips cover the usable {info.duration_s:.2f} s."
        )
    if session.end_s is not None and session.end_s > info.duration_s + 1 / info.fps:
        outcome.warnings.append(
            f"{where}: end {session.end_s:g} s is after the video ends ({info.duration_s:.2f} s);"
            " the last clip stops at the end of the video."
        )
    known = _known_clips(job, len(epochs))
    job.clips_dir.mkdir(parents=True, exist_ok=True)
    for leftover in filter(CLIP_ID.match, map(str, known["orphans"])):
        (job.clips_dir / f"{leftover}.mp4").unlink(missing_ok=True)
        (job.clips_dir / f".{leftover}.part.mp4").unlink(missing_ok=True)
    ids = known["ids"]
    jobs = []
    broken = []
    for epoch, clip_id in zip(epochs, ids, strict=True):
        done = clip_id in known["rows"] and _intact(job, known["rows"][clip_id])
        if clip_id in known["rows"] and not done:
            broken.append(clip_id)
        jobs.append(ClipJob(epoch, job.clips_dir / f"{clip_id}.mp4", done=done))
    if broken:
        outcome.warnings.append(
            f"{where}: {len(broken)} of its {len(ids)} clips recorded as complete were missing "
            f"or damaged ({', '.join(broken)}); cutting them again with the same ids.")
    manifest = {"key": list(job.key), "source": job.source, "plan": job.plan, "ids": ids,
                "rows": known["rows"]}
    write_json_atomic(job.manifest, manifest)

    def clip_done(clip: ClipResult) -> None:
        manifest["rows"][clip.path.stem] = _row(job, info, clip)
        write_json_atomic(job.manifest, manifest)

    total = epochs[-1].end_frame
    progress = None
    if report is not None:
        def progress(slots: int) -> None:
            report(job.key, slots, total, float(info.fps))
    result = cut_session(info, jobs, job.settings, progress, clip_done)
    outcome.warnings.extend(f"{where}: {warning}." for warning in result.warnings)
    rows = [manifest["rows"][clip_id] for clip_id in ids if clip_id in manifest["rows"]]
    if not rows:
        outcome.problem = f"{where}: no frame could be decoded in the requested window."
        return outcome
    outcome.status = "done"
    outcome.rows = rows
    outcome.clips_written = len(result.clips)
    kept = {row["file"] for row in rows}
    outcome.replaced = [(row["clip_id"], row["file"]) for row in job.existing
                        if row["file"] not in kept]
    return outcome


def _check_epoch(job: SessionJob, info) -> None:
    """Refuse an epoch shorter than one frame, or one that makes an absurd number of clips."""
    fps = float(info.fps)
    if job.epoch_seconds * fps < 1:
        raise PipelineError(
            f"an epoch of {job.epoch_seconds:g} s is shorter than one frame of this video "
            f"(1/{fps:g} s): use --epoch {1 / fps:.3g} or more")
    start = job.session.start_s or 0.0
    end = min(job.session.end_s or info.duration_s, info.duration_s)
    count = (end - start) / job.epoch_seconds
    if count > MAX_CLIPS_PER_SESSION:
        raise PipelineError(
            f"an epoch of {job.epoch_seconds:g} s would cut {count:,.0f} clips from this "
            f"session (at most {MAX_CLIPS_PER_SESSION:,}): use --epoch "
            f"{(end - start) / MAX_CLIPS_PER_SESSION:.3g} or more")


def _known_clips(job: SessionJob, count: int) -> dict[str, Any]:
    """Clip ids to reuse (from an interrupted run or an incomplete earlier cut) or new ones.

    `orphans` are clips of an interrupted run with other settings: never in clips.csv,
    so never given to coders, and safe to remove.
    """
    orphans: list[str] = []
    if job.manifest.is_file():
        try:
            saved = json.loads(job.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
        listed = {row["clip_id"] for row in job.existing}
        if (saved.get("source"), saved.get("plan")) == (job.source, job.plan) and len(
                saved.get("ids", [])) == count:
            return {"ids": saved["ids"], "rows": saved.get("rows", {}), "orphans": orphans}
        orphans = [clip_id for clip_id in saved.get("ids", []) if clip_id not in listed]
    same = [row for row in job.existing
            if row.get("source") == job.source and row.get("plan") == job.plan]
    if same and len(same) == count:
        ordered = sorted(same, key=lambda row: int(row.get("epoch_index") or 0))
        return {"ids": [row["clip_id"] for row in ordered],
                "rows": {row["clip_id"]: row for row in ordered}, "orphans": orphans}
    return {"ids": [secrets.token_hex(6) for _ in range(count)], "rows": {}, "orphans": orphans}


def _row(job: SessionJob, info, clip: ClipResult) -> dict[str, str]:
    session = job.session
    return {
        "clip_id": clip.path.stem, "dyad_id": session.dyad_id, "timepoint": session.timepoint,
        "arm": session.arm, "source": job.source, "start_s": f"{clip.epoch.start_s:.6f}",
        "end_s": f"{clip.end_s:.6f}", "file": f"{job.clips_dir.name}/{clip.path.name}",
        "fps": f"{round(float(info.fps), 6):g}", "frames": str(clip.frames),
        "qc": ";".join([flag for flag in clip.qc.split(";") if flag != "ok"]
                       + (["variable_rate"] if info.variable_rate else [])) or "ok",
        "duration_s": f"{clip.end_s - clip.epoch.start_s:.6f}",
        "epoch_index": str(clip.epoch.index), "session_row": str(session.row),
        "width": str(clip.width), "height": str(clip.height),
        "has_audio": "yes" if clip.has_audio else "no", "plan": job.plan,
        "source_fps": f"{info.mean_fps:.3f}", "repeated_frames": str(clip.repeated),
    }


# ---------------------------------------------------------------- progress


class ProgressDisplay:
    """Progress on stderr: per session and overall frames, speed (x real time), time left.

    On a terminal one line is redrawn in place; otherwise a line is printed every 10 s and
    whenever a session ends ("finished", "failed" or "already complete"). Sessions already
    complete are left out of the speed figure.
    """

    def __init__(self, sessions: int, stream=None, clock=time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.sessions = sessions
        self.finished = 0
        # key -> (slots done, slots in all, fps, first report time, last report time)
        self.active: dict[tuple[str, str], tuple[int, int, float, float, float]] = {}
        self.done_seconds = 0.0  # seconds of video in ended sessions
        self.lengths: dict[tuple[str, str], float] = {}  # seconds of video per session seen
        self.clock = clock
        self.started = clock()
        self.last_print = 0.0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.lock = threading.Lock()
        self.ended: set[tuple[str, str]] = set()

    def update(self, key: tuple[str, str], done: int, total: int, fps: float) -> None:
        """A session has reached grid slot `done` of `total`."""
        with self.lock:
            if key in self.ended:
                return
            now = self.clock()
            started = self.active.get(key, (0, 0, 0.0, now, now))[3]
            self.active[key] = (done, total, fps, started, now)
            self.lengths[key] = total / fps
            self._print(now, force=False)

    def finish(self, key: tuple[str, str], status: str = "done") -> None:
        """A session has ended: status "done", "skipped" (already complete) or "failed"."""
        with self.lock:
            self.ended.add(key)
            previous = self.active.pop(key, None)
            if previous is not None:  # a finished session counts whole, a failed one as far
                done, total, fps = previous[:3]  # as it got
                self.done_seconds += (total if status == "done" else done) / fps
            self.finished += 1
            label = {"skipped": "already complete", "failed": "failed"}.get(status, "finished")
            self._print(self.clock(), force=True, ended=(label, key))

    def _print(self, now: float, force: bool,
               ended: tuple[str, tuple[str, str]] | None = None) -> None:
        if not force and (now - self.last_print < (0.5 if self.tty else 10.0)
                          or now - self.started < 1.0):
            return
        self.last_print = now
        parts = []
        for (dyad, timepoint), (done, total, fps, started, updated) in self.active.items():
            if updated - started < 1.0:
                parts.append(f"{dyad}/{timepoint} {done}/{total} frames, starting")
                continue
            speed = done / fps / (updated - started)
            left = (total - done) / fps / speed if speed > 0 else 0.0
            parts.append(f"{dyad}/{timepoint} {done}/{total} frames {speed:.1f}x "
                         f"{_clock(left)} left")
        seconds = self.done_seconds + sum(d / f for d, _, f, _, _ in self.active.values())
        remaining = sum((t - d) / f for d, t, f, _, _ in self.active.values())
        waiting = self.sessions - self.finished - len(self.active)
        if waiting and self.lengths:  # sessions not started yet: guess the mean length
            remaining += waiting * sum(self.lengths.values()) / len(self.lengths)
        speed = seconds / max(now - self.started, 1.0)
        overall = f"{self.finished}/{self.sessions} sessions"
        if seconds >= 1:  # less is no measure of speed yet
            overall += f", {seconds:.0f} s of video at {speed:.1f}x real time"
        if remaining and seconds >= 1:
            overall += f", {'about ' if waiting else ''}{_clock(remaining / speed)} left"
        line = " | ".join(parts + [overall])
        if ended is not None and not self.tty:
            label, (dyad, timepoint) = ended
            line = f"{label} {dyad}/{timepoint}; " + line
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
