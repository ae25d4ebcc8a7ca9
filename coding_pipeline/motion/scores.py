"""Movement synchrony per session of a study, from its motion series: scores/motion_scores.csv
and the study's real-against-pseudo comparison, scores/motion_pseudo.json.

Per session (one row of motion_scores.csv, joined to sessions.csv like the dyad scores: dyad_id,
timepoint, arm and every further column; a session of sessions.csv without a motion file gets
a row with empty scores and the reason):

- `caregiver_motion`, `child_motion`: mean motion energy (share of the ROI's pixels changed per
  frame) over the frames used; `background_moved_share`: share of frames left out because the
  background moved.
- `sync_lag0`, `sync_peak`, `peak_lag_s`, `caregiver_leads_share`, `n_windows`: windowed lagged
  cross-correlation of the preprocessed series (`coding_pipeline.stats.synchrony`, rMEA's method)
  with study.toml's [motion] window_s, step_s, max_lag_s, smoothing_s and outlier_sd.
- `pseudo_sync_peak`, `sync_vs_pseudo`, `n_surrogates`: the caregiver paired with other
  sessions' children ([motion] surrogates pairings in all, seeded with [reliability] seed;
  `coding_pipeline.stats.pseudo_synchrony`), and the real sync_peak's z against them.
- `motion_fps`, `motion_seconds`: the rate the series were analysed at (the study's common
  rate, see `motion.series`) and the session's length.

motion_pseudo.json: the paired t-test of every session's sync_peak against its surrogates'
mean, with Cohen's d_z, and the settings used. It names no session.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from coding_pipeline.motion.series import (
    MOTION_DIR,
    MotionSeries,
    common_rate,
    on_grid,
    read_motion_series,
    series_path,
)
from coding_pipeline.stats.pseudo_synchrony import StudySynchrony, study_synchrony
from coding_pipeline.stats.synchrony import SynchronySettings
from coding_pipeline.study import (
    Study,
    StudyConfig,
    read_session_covariates,
    write_csv_atomic,
    write_json_atomic,
)

MOTION_SCORES_CSV = "motion_scores.csv"
MOTION_PSEUDO_JSON = "motion_pseudo.json"
SESSION_KEYS = ["dyad_id", "timepoint"]
MEASURES = ("caregiver_motion", "child_motion", "background_moved_share", "sync_lag0",
            "sync_peak", "peak_lag_s", "caregiver_leads_share", "n_windows", "pseudo_sync_peak",
            "sync_vs_pseudo", "n_surrogates", "motion_fps", "motion_seconds")
NO_SERIES = "no motion file: run `coding-pipeline motion` for this session"
NO_WINDOW = "no window with enough frames (shorter than window_s + max_lag_s, or mostly missing)"
REFERENCES = (
    "Ramseyer, F. & Tschacher, W. (2011). Nonverbal synchrony in psychotherapy. J Consult Clin "
    "Psychol, 79(3), 284-295.",
    "Kleinbub, J. R. & Ramseyer, F. T. (2021). rMEA: An R package to assess nonverbal "
    "synchronization in motion energy analysis time-series. Psychother Res, 31(6), 817-830.",
    "Moulder, R. G., Boker, S. M., Ramseyer, F. & Tschacher, W. (2018). Determining synchrony "
    "between behavioral time series: An application of surrogate data generation for "
    "establishing falsifiable null-hypotheses. Psychol Methods, 23(4), 757-773.",
)


@dataclass(frozen=True)
class SessionMotion:
    """One session's motion series, as read from its file."""

    dyad_id: str
    timepoint: str
    path: Path
    series: MotionSeries


@dataclass(frozen=True)
class MotionScores:
    """A study's motion scores: per session, the comparison, and the series analysed."""

    table: pd.DataFrame  # one row per session of sessions.csv (see the module docstring)
    comparison: dict  # motion_pseudo.json
    fps: float
    settings: SynchronySettings
    grids: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]  # caregiver, child at fps


def synchrony_settings(config: StudyConfig) -> SynchronySettings:
    """study.toml's [motion] synchrony settings."""
    return SynchronySettings(window_s=config.motion_window_s, step_s=config.motion_step_s,
                             max_lag_s=config.motion_max_lag_s,
                             smooth_s=config.motion_smoothing_s,
                             outlier_sd=config.motion_outlier_sd)


def read_study_motion(study: Study, sessions: pd.DataFrame,
                      warnings: list[str] | None = None) -> list[SessionMotion]:
    """The motion files of the sessions in `sessions` (dyad_id, timepoint), in its order; files
    in STUDY/motion/ that are no session's are reported in `warnings`."""
    found, expected = [], set()
    for dyad_id, timepoint in sessions[SESSION_KEYS].itertuples(index=False):
        path = series_path(study.root, dyad_id, timepoint)
        expected.add(path.name)
        if path.is_file():
            found.append(SessionMotion(dyad_id, timepoint, path, read_motion_series(path)))
    strays = sorted(p.name for p in (study.root / MOTION_DIR).glob("*.csv")
                    if p.name not in expected)
    if strays and warnings is not None:
        warnings.append(f"{study.root / MOTION_DIR}: {len(strays)} file(s) match no session of "
                        f"sessions.csv (e.g. {strays[0]}) and were left out.")
    return found


def score_motion(found: list[SessionMotion], settings: SynchronySettings, n_surrogates: int,
                 seed: int) -> tuple[pd.DataFrame, dict, float, dict]:
    """Per-session measures (dyad_id, timepoint and MEASURES), the comparison, the common rate
    and the grid series of each session."""
    fps = common_rate([session.series.fps for session in found])
    grids = {(s.dyad_id, s.timepoint): on_grid(s.series, fps) for s in found}
    result = study_synchrony(list(grids.values()), fps, settings, n_surrogates, seed)
    rows = []
    for session, synchrony in zip(found, result.sessions, strict=True):
        caregiver, child = grids[(session.dyad_id, session.timepoint)]
        rows.append({"dyad_id": session.dyad_id, "timepoint": session.timepoint,
                     "caregiver_motion": _mean(caregiver), "child_motion": _mean(child),
                     "background_moved_share": session.series.moved_share,
                     **asdict(synchrony), "motion_fps": fps,
                     "motion_seconds": caregiver.size / fps})
    table = pd.DataFrame(rows, columns=[*SESSION_KEYS, *MEASURES])
    return table, comparison_record(result, found, fps, settings, n_surrogates, seed), fps, grids


def comparison_record(result: StudySynchrony, found: list[SessionMotion], fps: float,
                      settings: SynchronySettings, n_surrogates: int, seed: int) -> dict:
    """motion_pseudo.json: the test, its numbers and the settings (no session named)."""
    rates = sorted({round(session.series.fps, 3) for session in found})
    return {
        "statistic": "sync_peak (mean over windows of the peak |Fisher z| across lags)",
        "test": "paired t-test of each session's sync_peak against the mean sync_peak of its "
                "between-dyad surrogates (its caregiver with other sessions' children), "
                "two-sided; d_z = mean difference / SD of the differences",
        **{key: _json_number(value) for key, value in asdict(result.comparison).items()},
        "surrogates": n_surrogates, "seed": seed,
        "fps": fps, "session_rates": rates,
        "resampled": len(rates) > 1,
        "settings": asdict(settings),
        "references": list(REFERENCES),
    }


def motion_table(measures: pd.DataFrame, covariates: pd.DataFrame) -> pd.DataFrame:
    """Every session of sessions.csv (dyad_id, timepoint, arm, further columns) with its
    measures, and `reason` when they are missing."""
    sessions = covariates.drop_duplicates(SESSION_KEYS)
    table = sessions.merge(measures, on=SESSION_KEYS, how="left")
    has_file = table[SESSION_KEYS].apply(tuple, axis=1).isin(
        set(measures[SESSION_KEYS].apply(tuple, axis=1)))
    table["reason"] = np.where(~has_file, NO_SERIES,
                               np.where(table["sync_peak"].isna(), NO_WINDOW, ""))
    return table.reset_index(drop=True)


def study_motion_scores(study: Study, warnings: list[str] | None = None) -> MotionScores | None:
    """The study's motion scores, or None when STUDY/motion/ holds no session's series."""
    if not (study.root / MOTION_DIR).is_dir() or not study.sessions_csv.is_file():
        return None
    covariates = read_session_covariates(study)
    found = read_study_motion(study, covariates, warnings)
    if not found:
        return None
    settings = synchrony_settings(study.config)
    measures, comparison, fps, grids = score_motion(
        found, settings, study.config.motion_surrogates, study.config.seed)
    return MotionScores(table=motion_table(measures, covariates), comparison=comparison,
                        fps=fps, settings=settings, grids=grids)


def write_motion_scores(folder: Path, motion: MotionScores) -> dict[str, Path]:
    """scores/motion_scores.csv and scores/motion_pseudo.json; returns label -> path."""
    written = {"motion CSV": Path(folder) / MOTION_SCORES_CSV,
               "motion pseudo JSON": Path(folder) / MOTION_PSEUDO_JSON}
    write_csv_atomic(written["motion CSV"], motion.table)
    write_json_atomic(written["motion pseudo JSON"], motion.comparison)
    return written


def _mean(values: np.ndarray) -> float:
    present = values[~np.isnan(values)]
    return float(present.mean()) if present.size else float("nan")


def _json_number(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value
