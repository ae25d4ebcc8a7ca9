"""Recovering from a damaged file: the keys' saved copies (the clip key's in
STUDY/.segment/keys/, the transcript key's in STUDY/.transcripts/keys/), the newest whole one,
and what to tell the user to restore a damaged pipeline file."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.folder import Study
from coding_pipeline.study.safe_write import to_csv, write_bytes_atomic
from coding_pipeline.study.spreadsheets import count_rows, neutralise_table, read_spreadsheet_text

KEY_HISTORY = 20  # copies of each key kept (clips.csv, transcripts.csv)
# key file -> (folder of its copies inside the study, the column of its ids)
_KEYS = {"clips.csv": (".segment/keys", "clip_id"),
         "transcripts.csv": (".transcripts/keys", "transcript_id")}


def _copies(root: Path, key: str = "clips.csv") -> list[Path]:
    folder, _ = _KEYS[key]
    return sorted((root / folder).glob(f"{Path(key).stem}-*.csv"))


def clip_key_history(study: Study) -> list[Path]:
    """The saved copies of clips.csv, oldest first (STUDY/.segment/keys/clips-<time>.csv)."""
    return _copies(study.root)


def write_clip_key(study: Study, table: pd.DataFrame) -> None:
    """Write clips.csv, keeping a copy in STUDY/.segment/keys/ (the newest KEY_HISTORY).

    The copy is written first, so a run killed in between leaves a copy at least as new as
    clips.csv.
    """
    write_key(study.root, "clips.csv", table)


def write_key(root: Path, key: str, table: pd.DataFrame) -> None:
    """Write a key (clips.csv or transcripts.csv) into the study at `root`, its copy first."""
    folder, _ = _KEYS[key]
    data = to_csv(neutralise_table(table)).encode("utf-8")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    write_bytes_atomic(root / folder / f"{Path(key).stem}-{stamp}.csv", data)
    write_bytes_atomic(root / key, data)
    for old in _copies(root, key)[:-KEY_HISTORY]:
        old.unlink(missing_ok=True)


def key_history(root: Path, key: str) -> list[Path]:
    """The saved copies of a key (clips.csv or transcripts.csv), oldest first."""
    return _copies(root, key)


def latest_copy(root: Path, key: str = "clips.csv") -> tuple[Path, set[str]] | None:
    """The newest copy of a key (of the study at `root`) that is whole, and its ids."""
    id_column = _KEYS[key][1]
    for copy in reversed(_copies(root, key)):
        try:
            text, delimiter = read_spreadsheet_text(copy)
            if count_rows(text, delimiter)[1] is not None:
                continue
            table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (PipelineError, pd.errors.ParserError, pd.errors.EmptyDataError):
            continue
        if id_column in table.columns:
            return copy, set(table[id_column])
    return None


def restore_command(key_path: Path, copy: Path | None) -> str:
    """How to put a key (clips.csv, transcripts.csv) back: from its newest whole copy, else
    from a backup."""
    if copy is None:
        return f"restore {key_path.name} from a backup"
    return f"restore it with `cp {copy} {key_path}`"


_RESTORE = {
    "ratings.csv": "Rerun `coding-pipeline pull` to rebuild it from the server (the raw exports "
                   "in exports/ keep every rating), or restore it from a backup.",
    "projects.csv": "Restore it from a backup; nothing was changed.",
}


def restore_advice(path: Path) -> str:
    """How to restore a damaged pipeline file (one sentence)."""
    if path.name in _KEYS:
        latest = latest_copy(path.parent, path.name)
        command = restore_command(path, latest[0] if latest else None)
        deleted = "no clip was deleted" if path.name == "clips.csv" else "no file was deleted"
        return f"{command[:1].upper()}{command[1:]}. Nothing was changed, {deleted}."
    if path.parent.name == "batches":
        return ("Restore it from a backup; nothing was changed (a batch file is written once, "
                "by `batch create`).")
    return _RESTORE.get(path.name, "Restore it from a backup; nothing was changed.")
