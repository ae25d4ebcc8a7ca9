"""The study's ROI files: rois.csv (where each person is in each session's picture), the still
frames drawn on, and their key.

    rois.csv              dyad_id,timepoint,role,x,y,w,h (fractions of the displayed picture),
                          by hand or by `rois pull`; checked by `motion.rois.validate_rois`
    rois/frames/<id>.jpg  one still per session, named by an opaque random id
    rois/frames.csv       the key: frame_id, dyad_id, timepoint, file, time_s, width, height,
                          project_id, task_id (which family each frame shows: keep it private)
    rois/pulled.csv       the rows the last `rois pull` wrote
    rois/history/         every rois.csv replaced, as rois-<time>.csv

A hand-edited rois.csv is never overwritten silently: `rois pull` keeps the rows of sessions
not drawn in Label Studio, and refuses to replace rows of a drawn session that differ from what
the last pull wrote (edited or written by hand) unless told to (`replace`); a copy of every
rois.csv it replaces is kept in rois/history/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.motion.rois import COLUMNS, ValidatedRois, validate_rois
from coding_pipeline.study import Study, read_table, write_bytes_atomic, write_csv_atomic

FRAME_KEY_COLUMNS = ["frame_id", "dyad_id", "timepoint", "file", "time_s", "width", "height",
                     "project_id", "task_id"]
SESSION = ["dyad_id", "timepoint"]
DECIMALS = 6  # fractions are written with 6 decimals (a 4K picture's pixel is 0.00026)


def rois_csv(study: Study) -> Path:
    return study.root / "rois.csv"


def rois_dir(study: Study) -> Path:
    return study.root / "rois"


def frames_dir(study: Study) -> Path:
    return rois_dir(study) / "frames"


def frame_key_csv(study: Study) -> Path:
    return rois_dir(study) / "frames.csv"


def read_frame_key(study: Study) -> pd.DataFrame:
    """rois/frames.csv, or an empty key before the first push."""
    path = frame_key_csv(study)
    if not path.is_file():
        return pd.DataFrame(columns=FRAME_KEY_COLUMNS)
    return read_table(path, FRAME_KEY_COLUMNS, "restore it from a backup, or move rois/ "
                      "aside and push again", written=True)


def write_frame_key(study: Study, key: pd.DataFrame) -> None:
    write_csv_atomic(frame_key_csv(study), key[FRAME_KEY_COLUMNS], record=True)


def read_rois(study: Study) -> ValidatedRois:
    """rois.csv read and validated (PipelineError on the first problem)."""
    table = read_table(rois_csv(study), list(COLUMNS),
                       "draw the ROIs (`coding-pipeline rois push` and `rois pull`) or write "
                       "rois.csv by hand (see the README, Movement synchrony)")
    return validate_rois(table, str(rois_csv(study)))


def _rounded(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in a comparable form: text keys, boxes rounded, sorted."""
    if table.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    rows = table[list(COLUMNS)].astype({"dyad_id": str, "timepoint": str, "role": str}).copy()
    for column in "xywh":
        rows[column] = pd.to_numeric(rows[column], errors="coerce").round(4)
    return rows.sort_values(["dyad_id", "timepoint", "role"]).reset_index(drop=True)


def _session_rows(table: pd.DataFrame, session: tuple[str, str]) -> pd.DataFrame:
    mask = (table["dyad_id"].astype(str) == session[0]) & (
        table["timepoint"].astype(str) == session[1])
    return _rounded(table[mask])


def edited_sessions(current: pd.DataFrame, pulled: pd.DataFrame, last_pulled: pd.DataFrame
                    ) -> list[tuple[str, str]]:
    """Sessions drawn now (`pulled`) whose rows in rois.csv (`current`) are neither what the last
    pull wrote nor what this one brings: edited or written by hand."""
    edited = []
    for session in map(tuple, pulled[SESSION].drop_duplicates().itertuples(index=False)):
        mine = _session_rows(current, session)
        if mine.empty:
            continue
        if not (mine.equals(_session_rows(last_pulled, session))
                or mine.equals(_session_rows(pulled, session))):
            edited.append(session)
    return edited


def merged_rois(current: pd.DataFrame, pulled: pd.DataFrame) -> pd.DataFrame:
    """rois.csv after a pull: the drawn sessions' rows from `pulled`, every other session's
    rows kept from `current`, in the order of `current` then new sessions."""
    drawn = set(map(tuple, pulled[SESSION].astype(str).itertuples(index=False)))
    keys = list(zip(current["dyad_id"].astype(str), current["timepoint"].astype(str),
                    strict=True)) if not current.empty else []
    kept = current[[key not in drawn for key in keys]] if keys else current
    return pd.concat([kept[list(COLUMNS)], pulled[list(COLUMNS)]], ignore_index=True)


def write_pulled_rois(study: Study, pulled: pd.DataFrame, replace: bool = False
                      ) -> tuple[Path, ValidatedRois, int]:
    """Write rois.csv with the rows pulled (see the module docstring): validated first, the
    previous rois.csv kept in rois/history/. Returns its path, the validated rows and how many
    sessions' rows were kept from the previous file."""
    path = rois_csv(study)
    current = (read_table(path, list(COLUMNS), "") if path.is_file()
               else pd.DataFrame(columns=list(COLUMNS)))
    last_pulled_path = rois_dir(study) / "pulled.csv"
    last_pulled = (read_table(last_pulled_path, list(COLUMNS), "", written=True)
                   if last_pulled_path.is_file() else pd.DataFrame(columns=list(COLUMNS)))
    edited = edited_sessions(current, pulled, last_pulled)
    if edited and not replace:
        named = ", ".join(f"{d} {t}" for d, t in edited[:5])
        raise PipelineError(
            f"{path} has rows written or edited by hand for {len(edited)} session(s) also drawn "
            f"in Label Studio ({named}{', ...' if len(edited) > 5 else ''}): nothing was "
            "written. Keep your rows by deleting those sessions' rectangles in Label Studio, or "
            "let the drawing win with `coding-pipeline rois pull STUDY --replace` (a copy of "
            "rois.csv is kept in rois/history/).")
    table = merged_rois(current, pulled)
    checked = validate_rois(table, str(path))
    if path.is_file():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        write_bytes_atomic(rois_dir(study) / "history" / f"rois-{stamp}.csv", path.read_bytes())
    write_csv_atomic(path, _for_file(table))
    write_csv_atomic(last_pulled_path, _for_file(pulled), record=True)
    kept = len(set(map(tuple, table[SESSION].astype(str).itertuples(index=False)))
               - set(map(tuple, pulled[SESSION].astype(str).itertuples(index=False))))
    return path, checked, kept


def _for_file(table: pd.DataFrame) -> pd.DataFrame:
    rows = table[list(COLUMNS)].copy()
    for column in "xywh":
        rows[column] = pd.to_numeric(rows[column]).round(DECIMALS)
    return rows
