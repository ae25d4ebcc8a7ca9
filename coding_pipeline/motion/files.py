"""The files of `coding-pipeline motion`: one motion series per session, and its record.

    motion/<session>.csv    one row per frame of the session's window (see MOTION_COLUMNS)
    motion/<session>.json   how it was measured: source, window, frame rate, ROIs, settings,
                            the noise threshold used, and the fingerprint of its inputs
    .motion/                the run's lock files

<session> is `<dyad_id>_<timepoint>` as in sessions.csv, kept readable: letters, digits, '.',
'-' and (in the dyad id) '_' stay as they are; any other character (and '_' in the timepoint,
so the last '_' always separates the two) is written as %XX of its UTF-8 bytes, as is a leading
'.'. So `FAM_001` at `T1` is `FAM_001_T1.csv` and `D/1` at `6 m` is `D%2F1_6%20m.csv`. The files
name families: they stay in the study folder, under its permissions, and are never pushed.

Columns of motion/<session>.csv:
    time              seconds from the recording's first frame (the timeline of sessions.csv's
                      start and end and of clips.csv), one row per frame at the full frame rate
    caregiver, child  motion energy: the share (0..1) of the ROI's pixels whose grey value
                      changed by more than the noise threshold since the frame before; empty
                      on the first row, on repeated rows, and (interlaced video) on the row
                      after the first frame of each file: that frame has no frame before it
                      to deinterlace with, so its picture is made differently
    background        the same for the background ROI; empty without one
    background_moved  1 where the background moved (camera shake, light change: every ROI moved
                      at once; leave these frames out), else 0; empty without a background ROI
    repeated          1 where the recording has no frame of its own (a slower stretch of a
                      variable-rate file, a gap between files) and the frame before is shown
                      again; its energies are empty, and the next frame's count the change over
                      the longer interval
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from coding_pipeline.study import Study, write_csv_atomic

if TYPE_CHECKING:
    from coding_pipeline.motion.energy import MotionEnergy

MOTION_DIR = "motion"
MOTION_COLUMNS = ("time", "caregiver", "child", "background", "background_moved", "repeated")
_KEPT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_NAME_BYTES = 200  # longest file name stem; longer ids are cut and end in a digest


def session_file_stem(dyad_id: str, timepoint: str) -> str:
    """The motion files' name of a session, without the extension (see the module docstring).

    >>> session_file_stem("FAM_001", "T1"), session_file_stem("D/1", "6 m_b")
    ('FAM_001_T1', 'D%2F1_6%20m%5Fb')
    """
    stem = f"{_escaped(dyad_id, keep='_')}_{_escaped(timepoint, keep='')}"
    if stem.startswith("."):
        stem = "%2E" + stem[1:]
    if len(stem) > _NAME_BYTES:
        digest = hashlib.sha256(f"{dyad_id}\x1f{timepoint}".encode()).hexdigest()[:16]
        stem = f"{stem[:_NAME_BYTES - 17]}~{digest}"
    return stem


def _escaped(text: str, keep: str) -> str:
    return "".join(char if char in _KEPT or char in keep
                   else "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
                   for char in text)


def motion_dir(study: Study) -> Path:
    return study.root / MOTION_DIR


def motion_csv_path(study: Study, dyad_id: str, timepoint: str) -> Path:
    """STUDY/motion/<session>.csv of a session."""
    return motion_dir(study) / f"{session_file_stem(dyad_id, timepoint)}.csv"


def record_path(csv_path: Path) -> Path:
    """The session's record beside its motion CSV (motion/<session>.json)."""
    return csv_path.with_suffix(".json")


def motion_table(slots: np.ndarray, fps: float, energy: MotionEnergy, repeated: np.ndarray,
                 unreliable: np.ndarray) -> pd.DataFrame:
    """The rows of motion/<session>.csv as text: one per grid slot measured (at `fps`);
    energies empty on `repeated` and `unreliable` rows."""
    count = len(slots)
    missing = repeated | unreliable
    columns = {"time": np.char.mod("%.6f", slots / fps).tolist()}
    for role in ("caregiver", "child", "background"):
        values = energy.energy.get(role)
        columns[role] = ([""] * count if values is None
                         else _shares(np.where(missing, np.nan, values)))
    has_background = "background" in energy.energy
    moved = energy.background_moved & ~missing
    columns["background_moved"] = (np.where(moved, "1", "0").tolist()
                                   if has_background else [""] * count)
    columns["repeated"] = np.where(repeated, "1", "0").tolist()
    return pd.DataFrame(columns, columns=list(MOTION_COLUMNS))


def _shares(values: np.ndarray) -> list[str]:
    text = np.char.mod("%.6g", values).astype(object)
    text[np.isnan(values)] = ""
    return text.tolist()


def write_motion_csv(path: Path, table: pd.DataFrame) -> None:
    """Write a session's motion series atomically (its row count recorded beside it)."""
    write_csv_atomic(path, table, record=True)
