"""Recovering from a damaged file: the clip key's saved copies (STUDY/.segment/keys/), the
newest whole one, and what to tell the user to restore a damaged pipeline file."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.folder import Study
from coding_pipeline.study.safe_write import to_csv, write_bytes_atomic
from coding_pipeline.study.spreadsheets import count_rows, neutralise_table, read_spreadsheet_text

KEY_HISTORY = 20  # copies of clips.csv kept in STUDY/.segment/keys/


def _copies(root: Path) -> list[Path]:
    return sorted((root / ".segment" / "keys").glob("clips-*.csv"))


def clip_key_history(study: Study) -> list[Path]:
    """The saved copies of clips.csv, oldest first (STUDY/.segment/keys/clips-<time>.csv)."""
    return _copies(study.root)


def write_clip_key(study: Study, table: pd.DataFrame) -> None:
    """Write clips.csv, keeping a copy in STUDY/.segment/keys/ (the newest KEY_HISTORY).

    The copy is written first, so a run killed in between leaves a copy at least as new as
    clips.csv.
    """
    data = to_csv(neutralise_table(table)).encode("utf-8")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    write_bytes_atomic(study.root / ".segment" / "keys" / f"clips-{stamp}.csv", data)
    write_bytes_atomic(study.clips_csv, data)
    for old in clip_key_history(study)[:-KEY_HISTORY]:
        old.unlink(missing_ok=True)


def latest_copy(root: Path) -> tuple[Path, set[str]] | None:
    """The newest copy of clips.csv (of the study at `root`) that is whole, and its clip ids."""
    for copy in reversed(_copies(root)):
        try:
            text, delimiter = read_spreadsheet_text(copy)
            if count_rows(text, delimiter)[1] is not None:
                continue
            table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (PipelineError, pd.errors.ParserError, pd.errors.EmptyDataError):
            continue
        if "clip_id" in table.columns:
            return copy, set(table["clip_id"])
    return None


def restore_command(clips_csv: Path, copy: Path | None) -> str:
    """How to put clips.csv back: from its newest whole copy, else from a backup."""
    if copy is None:
        return "restore clips.csv from a backup"
    return f"restore it with `cp {copy} {clips_csv}`"


_RESTORE = {
    "ratings.csv": "Rerun `coding-pipeline pull` to rebuild it from the server (the raw exports "
                   "in exports/ keep every rating), or restore it from a backup.",
    "projects.csv": "Restore it from a backup; nothing was changed.",
}


def restore_advice(path: Path) -> str:
    """How to restore a damaged pipeline file (one sentence)."""
    if path.name == "clips.csv":
        latest = latest_copy(path.parent)
        command = restore_command(path, latest[0] if latest else None)
        return (f"{command[:1].upper()}{command[1:]}. "
                "Nothing was changed, no clip was deleted.")
    if path.parent.name == "batches":
        return ("Restore it from a backup; nothing was changed (a batch file is written once, "
                "by `batch create`).")
    return _RESTORE.get(path.name, "Restore it from a backup; nothing was changed.")
