"""The sessions sheet, sessions.csv: one row per recorded session of a dyad at a timepoint
(dyad_id,timepoint,arm,video,start,end), read as lab managers save it from a spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.folder import Study
from coding_pipeline.study.spreadsheets import (
    IDENTIFIERS,
    REQUIRED_SESSION_COLUMNS,
    SESSION_COLUMNS,
    column_name,
    formula_start,
    read_spreadsheet_text,
)
from coding_pipeline.study.tables import read_table

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_time(text: str | float | int | None) -> float | None:
    """Seconds from text: '95', '95.5', '1:35', '01:35.500' or '0:01:35'. Blank gives None."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        if text != text:  # NaN from pandas
            return None
        return float(text)
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        match = _CLOCK.match(text)
        if not match:
            raise ValueError(
                f"'{text}' is not a time: use seconds (95.5) or [hh:]mm:ss[.fff] (1:35.5)"
            ) from None
        hours, minutes, seconds = match.groups()
        if int(minutes) >= 60 or float(seconds) >= 60:
            raise ValueError(f"'{text}' has minutes or seconds of 60 or more") from None
        value = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"'{text}' is not a time of 0 seconds or more")
    return value


@dataclass
class Session:
    """One row of sessions.csv: a recorded session of one dyad at one timepoint."""

    row: int  # line number in sessions.csv (the header is line 1)
    dyad_id: str
    timepoint: str
    arm: str
    video: Path
    start_s: float | None
    end_s: float | None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"sessions.csv row {self.row} ({self.video.name})"


def read_sessions(study: Study) -> tuple[list[Session], list[str]]:
    """Parse sessions.csv into sessions and a list of problems, one line per bad row.

    A bad row (missing field, unparseable time, start >= end, duplicated dyad and timepoint,
    footage already listed on another row) is reported and left out; the other rows are
    returned. A missing file or column is an error.
    """
    sessions: list[Session] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    footage: dict[Path, list[tuple[float, float, int]]] = {}
    for number, row in _session_rows(study):
        session = _parse_row(study, number, row)
        if isinstance(session, str):
            problems.append(session)
            continue
        span = (session.start_s or 0.0,
                session.end_s if session.end_s is not None else float("inf"))
        problem = _clash(session, row["video"], span, seen, footage)
        if problem:
            problems.append(problem)
            continue
        footage.setdefault(session.video, []).append((*span, number))
        seen[(session.dyad_id, session.timepoint)] = number
        sessions.append(session)
    return sessions, problems


def _session_rows(study: Study) -> list[tuple[int, dict[str, str]]]:
    """The rows of sessions.csv that are not blank, by line number, cells stripped; a missing
    file or required column is an error."""
    return sheet_rows(study, study.sessions_csv, REQUIRED_SESSION_COLUMNS, SESSION_COLUMNS,
                      "arm, start and end may be left empty")


def sheet_rows(study: Study, path: Path, required: list[str], columns: list[str],
               optional_note: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a lab manager's sheet that are not blank, by line number (the header is
    line 1), cells stripped, columns spelt ours; a missing file or required column is an
    error naming the header it needs."""
    if not path.is_file():
        raise PipelineError(f"{path} not found: run `coding-pipeline init {study.root}`.")
    text, delimiter = read_spreadsheet_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    found = [column_name(c) for c in (reader.fieldnames or [])]
    missing = [c for c in required if c not in found]
    if missing:
        raise PipelineError(
            f"{path}: missing column(s) {', '.join(missing)}; the header must be "
            f"{','.join(columns)} ({optional_note})."
        )
    reader.fieldnames = found
    rows = []
    for number, raw in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if any(row.values()):
            rows.append((number, row))
    return rows


def _where(number: int, video_text: str) -> str:
    return f"sessions.csv row {number}" + (f" ({video_text})" if video_text else "")


def _parse_row(study: Study, number: int, row: dict[str, str]) -> Session | str:
    """The session on one row of sessions.csv, or what is wrong with the row."""
    where = _where(number, row.get("video", ""))
    empty = [c for c in REQUIRED_SESSION_COLUMNS if not row.get(c)]
    if empty:
        return f"{where}: {', '.join(empty)} is empty; fill it in."
    formula = next((c for c in IDENTIFIERS if formula_start(row.get(c, ""))), None)
    if formula:
        return (f"{where}: {formula} '{row[formula]}' begins with "
                f"'{formula_start(row[formula])}', which a spreadsheet runs as a formula; "
                "rename it so it begins with a letter or digit.")
    try:
        start = parse_time(row.get("start"))
        end = parse_time(row.get("end"))
    except ValueError as exc:
        return f"{where}: start/end {exc}."
    if start is not None and end is not None and start >= end:
        return f"{where}: start ({start:g} s) is not before end ({end:g} s); fix the times."
    return Session(
        row=number, dyad_id=row["dyad_id"], timepoint=row["timepoint"],
        arm=row.get("arm", ""), video=study.absolute(row["video"]),
        start_s=start, end_s=end,
        extra={k: v for k, v in row.items() if k not in SESSION_COLUMNS},
    )


def _clash(session: Session, video_text: str, span: tuple[float, float],
           seen: dict[tuple[str, str], int],
           footage: dict[Path, list[tuple[float, float, int]]]) -> str | None:
    """What an earlier row already holds of this session: its dyad and timepoint, or an
    overlapping stretch of its video."""
    where = _where(session.row, video_text)
    key = (session.dyad_id, session.timepoint)
    if key in seen:
        return (f"{where}: dyad {key[0]} at timepoint {key[1]} is also on row {seen[key]}; "
                "keep one row per dyad and timepoint.")
    overlap = next((row_number for first, last, row_number in footage.get(session.video, [])
                    if span[0] < last and first < span[1]), None)
    if overlap is not None:
        return (f"{where}: the same stretch of {video_text} is also listed on row {overlap}; "
                "give each session its own video, or start/end times that do not overlap.")
    return None


def read_session_covariates(study: Study) -> pd.DataFrame:
    """sessions.csv as a table of dyad_id, timepoint, arm and any further columns (no video)."""
    table = read_table(study.sessions_csv, REQUIRED_SESSION_COLUMNS, "see `coding-pipeline init`")
    return table.drop(columns=[c for c in ("video", "start", "end") if c in table.columns])
