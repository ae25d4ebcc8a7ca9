"""The motion series files, STUDY/motion/<dyad_id>_<timepoint>.csv: their names and columns, read
back, and put on one common frame rate.

One file per session, one row per frame, written by `coding-pipeline motion`:

    time        seconds from the video's first frame (the timeline of clips.csv)
    caregiver   the caregiver's motion energy: share of the ROI's pixels that changed (0..1)
    child       the same for the child
    background  the same for the background ROI (empty without one)
    background_moved   1 where the background moved (camera shake, light change), else 0
    repeated    1 on a slot without a frame of its own (variable frame rate, the join of a
                split recording): its energies are empty

A frame whose flag is set, or whose caregiver or child value is empty, is missing: it takes no
part in the synchrony. The flag column may also be spelled as in `MOVED_ALIASES`. Every name
lives here, so the writer and the readers agree on one list.

Common rate: sessions recorded at different frame rates are put on the grid of the lowest rate
in the study, each grid point the mean of the present frames whose time rounds to it (a point
without one is missing); a study recorded at one rate keeps its frames as they are. Motion
energy per frame depends on the rate (more change accumulates between frames further apart), so
compare mean motion only between sessions of one rate; the synchrony statistics are computed on
SD-scaled series and are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.motion.files import session_file_stem
from coding_pipeline.video.probe import nominal_rate

MOTION_DIR = "motion"
TIME, CAREGIVER, CHILD, BACKGROUND = "time", "caregiver", "child", "background"
MOVED = "background_moved"
MOVED_ALIASES = (MOVED, "moved", "camera_moved", "background_flag", "flagged", "excluded")
MOTION_COLUMNS = (TIME, CAREGIVER, CHILD, BACKGROUND, MOVED)
REQUIRED_COLUMNS = (TIME, CAREGIVER, CHILD)
_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"", "0", "0.0", "false", "no", "n", "f", "nan"}
_HALF = 0.5 + 1e-6  # a time half-way between two grid points goes to the later one


def series_file_name(dyad_id: str, timepoint: str) -> str:
    """The motion file of a session, as the `motion` stage names it (`motion.files`):
    `<dyad_id>_<timepoint>.csv`, odd characters escaped."""
    return f"{session_file_stem(dyad_id, timepoint)}.csv"


def series_path(root: Path, dyad_id: str, timepoint: str) -> Path:
    """STUDY/motion/<dyad_id>_<timepoint>.csv for the study folder `root`."""
    return Path(root) / MOTION_DIR / series_file_name(dyad_id, timepoint)


@dataclass(frozen=True)
class MotionSeries:
    """One session's series as read: missing frames (flagged or empty) are NaN in both people."""

    time: np.ndarray
    caregiver: np.ndarray
    child: np.ndarray
    moved: np.ndarray  # bool per frame: the background moved

    @property
    def fps(self) -> float:
        """The frame rate: the standard rate nearest 1 / median frame interval."""
        steps = np.diff(self.time)
        steps = steps[steps > 0]
        return float(nominal_rate(1 / float(np.median(steps)))) if steps.size else float("nan")

    @property
    def moved_share(self) -> float:
        """Share of the frames in which the background moved."""
        return float(self.moved.mean()) if self.moved.size else float("nan")


def read_motion_series(path: Path) -> MotionSeries:
    """A motion file read and checked (see the module docstring); PipelineError names the file,
    line or column and what to do."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PipelineError(f"{path}: cannot be read as a motion CSV ({exc}): rerun "
                            "`coding-pipeline motion` for this session.") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise PipelineError(f"{path}: missing column(s) {', '.join(missing)} (expected "
                            f"{','.join(MOTION_COLUMNS)}): rerun `coding-pipeline motion`.")
    time = _numbers(table[TIME], path, TIME)
    if np.isnan(time).any() or (np.diff(time) <= 0).any():
        raise PipelineError(f"{path}: the time column must hold increasing seconds on every "
                            "line: rerun `coding-pipeline motion` for this session.")
    flag = next((c for c in MOVED_ALIASES if c in table.columns), None)
    moved = _flags(table[flag], path, flag) if flag else np.zeros(len(table), dtype=bool)
    caregiver, child = (_numbers(table[c], path, c) for c in (CAREGIVER, CHILD))
    missing_frame = moved | np.isnan(caregiver) | np.isnan(child)
    return MotionSeries(time=time, caregiver=np.where(missing_frame, np.nan, caregiver),
                        child=np.where(missing_frame, np.nan, child), moved=moved)


def _numbers(column: pd.Series, path: Path, name: str) -> np.ndarray:
    text = column.str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = values.isna() & (text != "") & (text.str.lower() != "nan")
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise PipelineError(f"{path} line {line}: {name} = {text[bad].iloc[0]!r} is not a "
                            "number: rerun `coding-pipeline motion` for this session.")
    return values.to_numpy(dtype=float)


def _flags(column: pd.Series, path: Path, name: str) -> np.ndarray:
    text = column.str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise PipelineError(f"{path} line {line}: {name} = {column[bad].iloc[0]!r} is not 0 "
                            "or 1: rerun `coding-pipeline motion` for this session.")
    return text.isin(_TRUE).to_numpy()


def common_rate(rates: list[float]) -> float:
    """The rate every session is put on: the lowest of the sessions' rates.

    >>> common_rate([30.0, 25.0, 30.0])
    25.0
    """
    present = [rate for rate in rates if np.isfinite(rate)]
    if not present:
        raise PipelineError("no motion file has two frames or more: rerun `coding-pipeline "
                            "motion`.")
    return min(present)


def on_grid(series: MotionSeries, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Caregiver and child on a regular grid at `fps` from the session's first frame: point k
    is the mean of the present frames whose time rounds to k / fps (NaN when none is present).

    >>> s = MotionSeries(np.arange(6) / 30, np.arange(6.0), np.zeros(6), np.zeros(6, bool))
    >>> on_grid(s, 30)[0].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    >>> on_grid(s, 15)[0].tolist()  # frames 0, (1, 2), (3, 4), 5
    [0.0, 1.5, 3.5, 5.0]
    """
    if series.time.size == 0:
        return np.array([]), np.array([])
    index = np.floor((series.time - series.time[0]) * fps + _HALF).astype(np.int64)
    size = int(index[-1]) + 1
    return _binned_mean(index, series.caregiver, size), _binned_mean(index, series.child, size)


def _binned_mean(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    present = ~np.isnan(values)
    sums = np.bincount(index[present], weights=values[present], minlength=size)
    counts = np.bincount(index[present], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
