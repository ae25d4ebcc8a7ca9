"""Reading the study's tables: any CSV as text columns, and the pipeline's own files checked
whole (a file cut short or edited is an error saying how to restore it)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.recovery import restore_advice
from coding_pipeline.study.safe_write import recorded_rows
from coding_pipeline.study.spreadsheets import (
    column_name,
    count_rows,
    read_spreadsheet_text,
    restore_table,
)


def read_table(path: Path, required: list[str], what: str, written: bool = False) -> pd.DataFrame:
    """Read a CSV with all columns as text, checking the required columns are there.

    Column names are normalised ('Clip ID' -> 'clip_id'); encoding and delimiter as
    `read_spreadsheet_text` finds them; cells our CSV writer protected from spreadsheets
    ('=...' written as "'=...") are read back as they were. A file the pipeline wrote
    (`written`, or one with a row count recorded beside it) must be complete: every row as
    many fields as the header, the last line ended, and no fewer rows than were written.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path} not found: {what}.")
    text, delimiter = read_spreadsheet_text(path)
    recorded = recorded_rows(path)
    if written or recorded is not None:
        check_complete(path, text, delimiter, recorded)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=delimiter)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PipelineError(f"{path}: cannot be read as CSV ({exc}).") from None
    table.columns = [column_name(str(c)) for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise PipelineError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(table.columns) or 'none'})."
        )
    return restore_table(table)


def check_complete(path: Path, text: str, delimiter: str = ",",
                   recorded: int | None = None) -> int:
    """The number of data rows of a CSV the pipeline wrote; a file cut short is an error."""
    count, problem = count_rows(text, delimiter, recorded)
    if problem is not None:
        raise PipelineError(
            f"{path} is damaged (cut short or edited): {problem}. {restore_advice(path)}")
    return count
