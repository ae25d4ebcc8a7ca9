"""What a segment run works on: one SessionJob per sessions.csv row, planned from sessions.csv
and clips.csv, each ending in a SessionOutcome, and the run's SegmentReport."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from coding_pipeline.study import REQUIRED_SESSION_COLUMNS, Session, Study, read_table
from coding_pipeline.video.cut import EncodeSettings
from coding_pipeline.video.sources import source_label, video_parts


@dataclass
class RunReport:
    """What a per-session run (segment, motion) did. `problems` are one line per failed
    sessions.csv row; `notes` say what the run changed besides its own work."""

    sessions_done: int = 0
    sessions_skipped: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class SegmentReport(RunReport):
    """What a segment run did (notes: relabelled, removed, re-cut sessions)."""

    clips_written: int = 0


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

    @property
    def lock_path(self) -> Path:
        """Held by the one Dask task cutting this session (cluster.py)."""
        return self.manifest.with_suffix(".lock")

    def with_threads(self, threads: int) -> SessionJob:
        """The same job, decoding and encoding on `threads` CPU threads."""
        return replace(self, settings=replace(self.settings, threads=threads))


@dataclass
class SessionOutcome:
    """What segmenting one session did (sent back from the worker)."""

    key: tuple[str, str]
    status: str  # "done", "skipped" or "failed"
    rows: list[dict[str, Any]] = field(default_factory=list)
    clips_written: int = 0
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (clip id, file) to remove

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
        manifest=manifest_path(study, (session.dyad_id, session.timepoint)),
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


def manifest_path(study: Study, key: tuple[str, str]) -> Path:
    """STUDY/.segment/<digest>.json: the session's planned clip ids and the clips cut so far."""
    digest = hashlib.sha1("\x1f".join(key).encode()).hexdigest()[:16]
    return study.root / ".segment" / f"{digest}.json"


def plan_label(epoch: float, session: Session, min_last: float) -> str:
    """The epoch settings of a session as recorded in clips.csv's `plan` column."""
    start = "" if session.start_s is None else f"{session.start_s:g}"
    end = "" if session.end_s is None else f"{session.end_s:g}"
    return f"epoch={epoch:g};start={start};end={end};min_last={min_last:g}"


def plan_field(plan: str, name: str) -> str:
    """One setting (epoch, start, end, min_last) from a `plan` label."""
    fields = dict(part.partition("=")[::2] for part in plan.split(";") if "=" in part)
    return fields.get(name, "?")


def listed_sessions(study: Study) -> tuple[set[tuple[str, str]], bool]:
    """Every (dyad_id, timepoint) on a row of sessions.csv, bad rows included, and whether
    every row has both (else a session's row cannot be told apart from a removed one)."""
    rows = read_table(study.sessions_csv, REQUIRED_SESSION_COLUMNS, "see `coding-pipeline init`")
    rows = rows.apply(lambda column: column.str.strip())
    rows = rows[(rows != "").any(axis=1)]
    named = (rows["dyad_id"] != "") & (rows["timepoint"] != "")
    keys = set(zip(rows.loc[named, "dyad_id"], rows.loc[named, "timepoint"], strict=True))
    return keys, bool(named.all())


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
            before, after = plan_field(old.get("plan", ""), "epoch"), f"{job.epoch_seconds:g}"
            reason = (f"epoch changed from {before} s to {after} s" if before != after
                      else "start, end or min_last_epoch changed")
        else:
            continue
        reasons[reason] = reasons.get(reason, 0) + 1
    return [f"re-cutting {count} session{'s' if count > 1 else ''}: {reason}."
            for reason, count in reasons.items()]
