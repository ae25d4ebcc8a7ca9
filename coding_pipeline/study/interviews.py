"""The interviews sheet, interviews.csv: one row per interview transcript of a dyad at a
timepoint (dyad_id,timepoint,arm,transcript[,interview]), read as lab managers save it from a
spreadsheet, with the same checks and messages as sessions.csv.

`transcript` is the transcript file (.docx, .txt, .vtt or .srt), relative to the study folder
or absolute; `interview` is the interview's kind (default PDI); further columns are covariates,
as in sessions.csv. `init` does not write this file: the lab manager adds it when a study codes
interviews.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.folder import Study
from coding_pipeline.study.sessions import sheet_rows
from coding_pipeline.study.spreadsheets import (
    IDENTIFIERS,
    INTERVIEW_COLUMNS,
    REQUIRED_INTERVIEW_COLUMNS,
    formula_start,
)
from coding_pipeline.study.tables import read_table

DEFAULT_INTERVIEW = "PDI"
INTERVIEWS_TEMPLATE = "dyad_id,timepoint,arm,transcript,interview\n"


@dataclass
class Interview:
    """One row of interviews.csv: an interview of one dyad at one timepoint."""

    row: int  # line number in interviews.csv (the header is line 1)
    dyad_id: str
    timepoint: str
    arm: str
    transcript: Path
    source: str  # the transcript as written in interviews.csv
    interview: str = DEFAULT_INTERVIEW
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dyad_id, self.timepoint, self.interview)

    @property
    def where(self) -> str:
        return f"interviews.csv row {self.row} ({self.source})"


def read_interviews(study: Study) -> tuple[list[Interview], list[str]]:
    """Parse interviews.csv into interviews and a list of problems, one line per bad row.

    A bad row (empty field, a formula, a transcript file that is not there, a dyad and
    timepoint or a transcript already on another row) is reported and left out; the other
    rows are returned. A missing file or column is an error.
    """
    if not study.interviews_csv.is_file():
        raise PipelineError(
            f"{study.interviews_csv} not found: list one interview per row with the header "
            f"{','.join(INTERVIEW_COLUMNS)} (arm and interview may be left empty; interview "
            f"defaults to {DEFAULT_INTERVIEW}).")
    rows = sheet_rows(study, study.interviews_csv, REQUIRED_INTERVIEW_COLUMNS, INTERVIEW_COLUMNS,
                      f"arm and interview may be left empty; interview defaults to "
                      f"{DEFAULT_INTERVIEW}")
    interviews: list[Interview] = []
    problems: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    files: dict[Path, int] = {}
    for number, row in rows:
        interview = _parse_row(study, number, row)
        if isinstance(interview, Interview):
            interview = _clash(interview, seen, files)
        if isinstance(interview, str):
            problems.append(interview)
            continue
        seen[interview.key] = number
        files[interview.transcript.resolve()] = number
        interviews.append(interview)
    return interviews, problems


def _where(number: int, transcript: str) -> str:
    return f"interviews.csv row {number}" + (f" ({transcript})" if transcript else "")


def _parse_row(study: Study, number: int, row: dict[str, str]) -> Interview | str:
    """The interview on one row of interviews.csv, or what is wrong with the row."""
    where = _where(number, row.get("transcript", ""))
    empty = [c for c in REQUIRED_INTERVIEW_COLUMNS if not row.get(c)]
    if empty:
        return f"{where}: {', '.join(empty)} is empty; fill it in."
    formula = next((c for c in [*IDENTIFIERS, "interview"] if formula_start(row.get(c, ""))),
                   None)
    if formula:
        return (f"{where}: {formula} '{row[formula]}' begins with "
                f"'{formula_start(row[formula])}', which a spreadsheet runs as a formula; "
                "rename it so it begins with a letter or digit.")
    path = study.absolute(row["transcript"])
    if not path.is_file():
        return (f"{where}: transcript file {path} not found; check the path (relative to "
                f"{study.root}) or copy the transcript there.")
    return Interview(
        row=number, dyad_id=row["dyad_id"], timepoint=row["timepoint"], arm=row.get("arm", ""),
        transcript=path, source=row["transcript"],
        interview=row.get("interview") or DEFAULT_INTERVIEW,
        extra={k: v for k, v in row.items() if k not in INTERVIEW_COLUMNS},
    )


def _clash(interview: Interview, seen: dict[tuple[str, str, str], int],
           files: dict[Path, int]) -> Interview | str:
    """The interview, or what an earlier row already holds of it."""
    where = interview.where
    if interview.key in seen:
        dyad, timepoint, kind = interview.key
        return (f"{where}: dyad {dyad} at timepoint {timepoint} ({kind}) is also on row "
                f"{seen[interview.key]}; keep one row per dyad, timepoint and interview.")
    earlier = files.get(interview.transcript.resolve())
    if earlier is not None:
        return (f"{where}: the same transcript file is also listed on row {earlier}; give "
                "each interview its own transcript.")
    return interview


def read_interview_covariates(study: Study) -> pd.DataFrame:
    """interviews.csv as a table of dyad_id, timepoint, arm, interview and any further columns
    (no transcript path)."""
    table = read_table(study.interviews_csv, REQUIRED_INTERVIEW_COLUMNS,
                       "list one interview per row (see the README)")
    if "interview" not in table.columns:
        table["interview"] = DEFAULT_INTERVIEW
    table["interview"] = table["interview"].replace("", DEFAULT_INTERVIEW)
    return table.drop(columns=["transcript"])
