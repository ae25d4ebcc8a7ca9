"""Movement synchrony beside the ratings: the motion scores (`coding_pipeline.motion.scores`)
merged into the wide dyad tables, with their SPSS variable labels.

Pure: tables in, tables out. The wide table (dyad x timepoint) gets the columns of `MERGED`;
the one-row-per-dyad table gets them per timepoint, `<measure>_<timepoint>`, after every column
it had. Nothing changes when a study has no motion scores.
"""

from __future__ import annotations

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.scores.core import SESSION_KEYS

MOTION_LABELS = {
    "caregiver_motion": "Caregiver motion energy (mean share of ROI pixels changed per frame)",
    "child_motion": "Child motion energy (mean share of ROI pixels changed per frame)",
    "background_moved_share": "Share of frames left out (background moved)",
    "sync_lag0": "Movement synchrony at lag 0 (mean Fisher z)",
    "sync_peak": "Movement synchrony (mean of each window's peak |Fisher z|)",
    "peak_lag_s": "Lag of peak synchrony in seconds (> 0: caregiver leads)",
    "caregiver_leads_share": "Share of windows in which the caregiver leads",
    "n_windows": "Cross-correlation windows used",
    "pseudo_sync_peak": "Pseudo-synchrony (mean sync_peak of between-dyad surrogates)",
    "sync_vs_pseudo": "Synchrony against pseudo-synchrony (z of sync_peak vs surrogates)",
    "n_surrogates": "Surrogate pairings",
    "motion_fps": "Frame rate of the motion analysis",
    "motion_seconds": "Seconds of motion analysed",
}
MERGED = ("caregiver_motion", "child_motion", "background_moved_share", "sync_lag0",
          "sync_peak", "peak_lag_s", "caregiver_leads_share", "n_windows", "pseudo_sync_peak",
          "sync_vs_pseudo")


def _check_names(table: pd.DataFrame, columns: list[str], which: str) -> None:
    clash = [c for c in columns if c in table.columns]
    if clash:
        raise PipelineError(
            f"The {which} table already has a column {clash[0]!r}, the name of a motion score: "
            "rename that column in sessions.csv (or that composite in the scheme) so the "
            "motion scores can be added beside it.")


def wide_with_motion(wide: pd.DataFrame, motion: pd.DataFrame) -> pd.DataFrame:
    """The dyad x timepoint table with the motion measures of each session (empty where a
    session has none)."""
    _check_names(wide, list(MERGED), "wide scores")
    return wide.merge(motion[[*SESSION_KEYS, *MERGED]], on=SESSION_KEYS, how="left")


def by_dyad_with_motion(by_dyad: pd.DataFrame, motion: pd.DataFrame,
                        timepoints: list[str]) -> pd.DataFrame:
    """The one-row-per-dyad table with `<measure>_<timepoint>` per timepoint, in the order of
    `timepoints` (then any others sorted)."""
    present = list(pd.unique(motion["timepoint"]))
    order = [t for t in timepoints if t in present] + sorted(
        t for t in present if t not in timepoints)
    parts = []
    for timepoint in order:
        at = motion[motion["timepoint"] == timepoint].drop_duplicates("dyad_id")
        parts.append(at.set_index("dyad_id")[list(MERGED)].add_suffix(f"_{timepoint}"))
    if not parts:
        return by_dyad
    added = pd.concat(parts, axis=1)
    _check_names(by_dyad, list(added.columns), "by-dyad scores")
    return by_dyad.merge(added, left_on="dyad_id", right_index=True, how="left")


def motion_labels(timepoints: list[str] | None = None) -> dict[str, str]:
    """SPSS variable labels of the motion columns, per timepoint when `timepoints` are given."""
    if timepoints is None:
        return dict(MOTION_LABELS)
    return {f"{name}_{timepoint}": f"{label} at {timepoint}"
            for timepoint in timepoints for name, label in MOTION_LABELS.items()}
