"""Safe writes: every file is written to a temporary name and renamed into place, so a crash
never leaves a half-written file behind; CSV cells cannot run as spreadsheet formulas."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.permissions import permission_message
from coding_pipeline.study.spreadsheets import neutralise_table, text_cells_matching


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` when the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part",
                                        dir=path.parent)
    except PermissionError:
        raise PipelineError(permission_message(path.parent, "write in")) from None
    except OSError as exc:
        if exc.errno != errno.EROFS:
            raise
        raise PipelineError(permission_message(path.parent, "write in")) from None
    os.close(handle)
    temp_path = Path(temp)
    os.chmod(temp_path, 0o666 & ~_current_umask())  # as an ordinary new file, not mkstemp's 0600
    try:
        yield temp_path
        os.replace(temp_path, path)
    finally:
        if temp_path.exists():
            temp_path.unlink()


def write_text_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write text to `path` atomically, with permissions `mode` (e.g. 0o600) or the umask's."""
    with atomic_path(path) as temp:
        if mode is not None:
            os.chmod(temp, mode)
        temp.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def write_json_atomic(path: Path, data: Any, mode: int | None = None) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", mode=mode)


def to_csv(table: pd.DataFrame, path: Path | None = None) -> str | None:
    """CSV text of `table` (or None, written to `path`); lines end in CRLF when a cell holds a
    CR, so that the cell is quoted (Python's csv module quotes only the line terminator's
    characters)."""
    has_cr = any(text_cells_matching(table[column], "\r").any()
                 for column in table.select_dtypes(include=["object", "string"]).columns)
    return table.to_csv(path, index=False, lineterminator="\r\n" if has_cr else "\n")


def _rows_record(path: Path) -> Path:
    return Path(path).with_name(f".{Path(path).name}.rows")


def recorded_rows(path: Path) -> int | None:
    """The number of rows last written to `path` with `write_csv_atomic(..., record=True)`."""
    record = _rows_record(path)
    try:
        return int(record.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def write_csv_atomic(path: Path, table: pd.DataFrame, record: bool = False) -> None:
    """Write a table as UTF-8 CSV without the index, atomically.

    Text that a spreadsheet would run as a formula is written with a leading apostrophe (see
    `neutralise`; `read_table` reads it back as it was). `record` keeps the row count in a
    hidden file beside it (`.NAME.rows`), so a copy cut short at a line end is still noticed.
    """
    with atomic_path(path) as temp:
        to_csv(neutralise_table(table), temp)
    if record:
        write_text_atomic(_rows_record(path), f"{len(table)}\n")
