"""What pull keeps in the study folder: the raw exports and the lists of problems in
STUDY/exports/ (never overwritten; one not saved again while it stays the same), and the
ratings.csv of the last pull, read back to tell what changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.annotations import RATINGS_COLUMNS, Problem
from coding_pipeline.study import atomic_path, read_table, write_text_atomic


def read_old_ratings(path: Path, notes: list[str]) -> pd.DataFrame:
    """The ratings.csv of the last pull; a damaged one is noted and rebuilt from the server."""
    if not path.is_file():
        return pd.DataFrame(columns=RATINGS_COLUMNS)
    try:
        table = read_table(path, [], "", written=True)
    except PipelineError as exc:
        notes.append(f"{exc} It was rebuilt from the server, so every annotation counts as new.")
        return pd.DataFrame(columns=RATINGS_COLUMNS)
    for column in RATINGS_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    return table[RATINGS_COLUMNS]


def _last_export_digest(exports_dir: Path, project_id: str) -> str | None:
    saved = sorted(exports_dir.glob(f"*_project{project_id}.json"))
    if not saved:
        return None
    return hashlib.sha256(saved[-1].read_bytes()).hexdigest()


def _export_path(exports_dir: Path, stamp: str, project_id: str) -> Path:
    path = exports_dir / f"{stamp}_project{project_id}.json"
    number = 1
    while path.exists():
        number += 1
        path = exports_dir / f"{stamp}-{number}_project{project_id}.json"
    return path


def save_exports(exports_dir: Path, stamp: str, exports: list[tuple[str, bytes]]) -> list[Path]:
    """Save each raw export unless it is the same as the last one saved for its project."""
    saved = []
    for project_id, payload in exports:
        if _last_export_digest(exports_dir, project_id) == hashlib.sha256(payload).hexdigest():
            continue
        path = _export_path(exports_dir, stamp, project_id)
        with atomic_path(path) as temp:
            temp.write_bytes(payload)
        saved.append(path)
    return saved


def save_problems(exports_dir: Path, stamp: str, problems: list[Problem]) -> Path | None:
    """Write the full list of problems, unless the last list saved is the same; return its path."""
    if not problems:
        return None
    text = "".join(f"{problem}\n" for problem in problems)
    saved = sorted(exports_dir.glob("*_problems.txt"))
    if saved and saved[-1].read_text(encoding="utf-8") == text:
        return saved[-1]
    path = exports_dir / f"{stamp}_problems.txt"
    write_text_atomic(path, text)
    return path


def saved_exports(exports_dir: Path, project_id: str) -> list[tuple[str, list[dict]]]:
    """The raw exports of a project saved by earlier pulls, oldest first, parsed."""
    saved = []
    for path in sorted(exports_dir.glob(f"*_project{project_id}.json")):
        try:
            saved.append((f"exports/{path.name}", json.loads(path.read_bytes())))
        except ValueError:
            continue  # a damaged copy: the others still count
    return saved
