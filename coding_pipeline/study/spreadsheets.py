"""What spreadsheets do to CSV files: formulas in cells, encodings and delimiters, column
spellings, rows cut short. No study folder here: text and tables in, text and tables out."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.permissions import read_bytes

SESSION_COLUMNS = ["dyad_id", "timepoint", "arm", "video", "start", "end"]
REQUIRED_SESSION_COLUMNS = ["dyad_id", "timepoint", "video"]
IDENTIFIERS = ["dyad_id", "timepoint", "arm"]  # never begin as a spreadsheet formula
INTERVIEW_COLUMNS = ["dyad_id", "timepoint", "arm", "transcript", "interview"]
REQUIRED_INTERVIEW_COLUMNS = ["dyad_id", "timepoint", "transcript"]
TRANSCRIPT_KEY_COLUMNS = [
    "transcript_id", "dyad_id", "timepoint", "arm", "interview", "source", "sha256", "read_at",
]
CLIP_COLUMNS = [
    "clip_id", "dyad_id", "timepoint", "arm", "source", "start_s", "end_s",
    "file", "fps", "frames", "qc",
]
RATING_COLUMNS = ["clip_id", "coder", "item", "value", "annotation_id", "updated_at"]
_KNOWN_COLUMNS = {*SESSION_COLUMNS, *CLIP_COLUMNS, *RATING_COLUMNS, "role", "batch", "status",
                  *INTERVIEW_COLUMNS, *TRANSCRIPT_KEY_COLUMNS, "term", "replacement",
                  "question", "first_turn"}


def column_name(header: str) -> str:
    """A header cell as a column name: one of ours however it is spelled ('Dyad ID ' ->
    'dyad_id'), any other column as written, without surrounding spaces."""
    canonical = re.sub(r"\s+", "_", header.strip()).lower()
    return canonical if canonical in _KNOWN_COLUMNS else header.strip()


# ---------------------------------------------------------------- formulas

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PROTECTED = re.compile(r"^'*[=+\-@\t\r]")


def formula_start(value: str) -> str | None:
    """The character that would make a spreadsheet read `value` as a formula, if any."""
    return value[0] if value.startswith(FORMULA_START) else None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, with the usual leading apostrophe.

    Numbers ('-1.5', '+3') are untouched; text already starting with apostrophes before such
    a character gets one more, so `restore` gives back exactly what was written.
    """
    if isinstance(value, str) and _PROTECTED.match(value) and not _is_number(value):
        return "'" + value
    return value


def restore(value: Any) -> Any:
    """The text `neutralise` was given."""
    if isinstance(value, str) and value.startswith("'") and _PROTECTED.match(value):
        return value[1:]
    return value


def text_cells_matching(values: pd.Series, pattern: str) -> pd.Series:
    """Which cells are text with a match of the regular expression `pattern`."""
    try:
        return values.str.contains(pattern, regex=True, na=False).astype(bool)
    except AttributeError:  # no text in the column at all
        return pd.Series(False, index=values.index)


def _map_text(table: pd.DataFrame, function) -> pd.DataFrame:
    """`function` (neutralise or restore) applied to the text cells and column names."""
    columns = [c for c in table.columns
               if table[c].dtype == object or pd.api.types.is_string_dtype(table[c])]
    if not columns:
        return table
    table = table.copy()
    for column in columns:
        cells = text_cells_matching(table[column], _PROTECTED.pattern)  # all they change
        if cells.any():
            table[column] = table[column].where(~cells, table[column][cells].map(function))
    table.columns = [function(c) if isinstance(c, str) else c for c in table.columns]
    return table


def neutralise_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of `table` whose text cells cannot run as spreadsheet formulas (for CSV only)."""
    return _map_text(table, neutralise)


def restore_table(table: pd.DataFrame) -> pd.DataFrame:
    return _map_text(table, restore)


# ---------------------------------------------------------------- CSV text


def read_spreadsheet_text(path: Path) -> tuple[str, str]:
    """A CSV file's text and delimiter, as spreadsheets save them.

    UTF-8 (with or without Excel's byte-order mark), UTF-16 with a byte-order mark (Excel's
    "Unicode text"), else Windows-1252 / Latin-1 (Excel's "CSV (Comma delimited)" on
    Windows); comma, semicolon (Excel in many European locales) or tab. Anything else (UTF-16
    without a byte-order mark, binary data) is an error naming the file and what to do.
    """
    data = read_bytes(path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise PipelineError(
                f"{path} starts as UTF-16 text but is damaged or cut short: save it again as "
                "CSV UTF-8 (Excel: File > Save As > CSV UTF-8).") from None
    elif b"\x00" in data:
        raise PipelineError(
            f"{path} is not a CSV text file (it holds zero bytes: binary data, or UTF-16 "
            "without a byte-order mark): save it as CSV UTF-8 (Excel: File > Save As > "
            "CSV UTF-8).")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    if not text.strip():
        raise PipelineError(f"{path} is empty: it needs a header row and one row per entry.")
    header = text.lstrip().splitlines()[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    return text, delimiter


def count_rows(text: str, delimiter: str = ",",
               recorded: int | None = None) -> tuple[int, str | None]:
    """The number of data rows of CSV text, and what shows it was cut short or edited (None
    when whole): a row with another number of fields than the header, a last line ended in
    the middle, or fewer rows than `recorded` were written."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return 0, str(exc)
    rows = [row for row in rows if row]
    if not rows:
        return 0, "it has no header row"
    width = len(rows[0])
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            return 0, f"row {number} has {len(row)} of the header's {width} fields"
    if not text.endswith(("\n", "\r")):
        return 0, "its last line ends in the middle"
    count = len(rows) - 1
    if recorded is not None and count < recorded:
        return count, f"it has {count} rows but {recorded} were written"
    return count, None
