"""Motion series files as `coding-pipeline motion` writes them (motion.series' format), with
known motion: the child follows the caregiver after a delay, or moves on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coding_pipeline.motion.series import (
    BACKGROUND,
    CAREGIVER,
    CHILD,
    MOVED,
    TIME,
    series_path,
)


def motion_like(rng: np.random.Generator, frames: int, smooth: int = 9) -> np.ndarray:
    """Non-negative, autocorrelated values in 0..1 shaped like motion energy."""
    noise = rng.normal(size=frames + smooth - 1)
    return np.clip(np.abs(np.convolve(noise, np.ones(smooth) / smooth, mode="valid")) / 4, 0, 1)


def delayed_pair(rng, seconds: float, fps: float, delay_s: float | None):
    """(caregiver, child): the child's motion is the caregiver's `delay_s` later plus noise
    as strong as the signal; `delay_s` None: independent."""
    frames = int(round(seconds * fps))
    if delay_s is None:
        return motion_like(rng, frames), motion_like(rng, frames)
    delay = int(round(delay_s * fps))
    caregiver = motion_like(rng, frames + delay)
    child = (caregiver[:frames] + motion_like(rng, frames)) / 2
    return caregiver[delay:], child


def write_motion_csv(path: Path, fps: float, caregiver: np.ndarray, child: np.ndarray,
                     moved: np.ndarray | None = None, flag_column: str = MOVED) -> Path:
    """One session's motion file: time, caregiver, child, background and the flag column."""
    frames = caregiver.size
    moved = np.zeros(frames, bool) if moved is None else moved
    background = np.where(moved, 0.3, 0.001)
    table = pd.DataFrame({TIME: np.round(np.arange(frames) / fps, 6), CAREGIVER: caregiver,
                          CHILD: child, BACKGROUND: background, flag_column: moved.astype(int)})
    table.loc[0, [CAREGIVER, CHILD, BACKGROUND]] = np.nan  # no previous frame: no difference
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.6g")
    return path


def write_study_motion(root: Path, sessions: list[tuple[str, str]], seed: int = 1,
                       seconds: float = 150.0, fps: float = 30.0,
                       delay_s: float | None = 0.5) -> None:
    """A motion file for each (dyad_id, timepoint), the child `delay_s` behind the caregiver."""
    rng = np.random.default_rng(seed)
    for dyad_id, timepoint in sessions:
        caregiver, child = delayed_pair(rng, seconds, fps, delay_s)
        write_motion_csv(series_path(root, dyad_id, timepoint), fps, caregiver, child)
