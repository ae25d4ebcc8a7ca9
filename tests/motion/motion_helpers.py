"""Helpers for the motion stage tests: studies of generated sessions, measured and read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from dyad_video import ROIS

from coding_pipeline.motion.files import motion_csv_path, record_path
from coding_pipeline.motion.stage import motion_study
from coding_pipeline.study import Study, init_study, load_study


def rois_rows(dyad_id: str, timepoint: str, rois: dict = ROIS) -> list[str]:
    return [f"{dyad_id},{timepoint},{role},{x},{y},{w},{h}"
            for role, (x, y, w, h) in rois.items()]


def write_study_files(study: Study, sessions: list[tuple], rois: dict | None = None) -> None:
    """sessions.csv rows (dyad_id, timepoint, video[, start, end]) and their rois.csv; a
    session missing from `rois` (dict by (dyad_id, timepoint)) gets the default boxes."""
    lines, boxes = [], ["dyad_id,timepoint,role,x,y,w,h"]
    for dyad_id, timepoint, video, *window in sessions:
        start, end = (window + ["", ""])[:2]
        lines.append(f"{dyad_id},{timepoint},A,{video},{start},{end}")
        session_rois = (rois or {}).get((dyad_id, timepoint), ROIS)
        if session_rois is not None:
            boxes += rois_rows(dyad_id, timepoint, session_rois)
    study.sessions_csv.write_text("dyad_id,timepoint,arm,video,start,end\n"
                                  + "\n".join(lines) + "\n", encoding="utf-8")
    (study.root / "rois.csv").write_text("\n".join(boxes) + "\n", encoding="utf-8")


def make_study(root: Path, sessions: list[tuple], rois: dict | None = None,
               run: bool = True) -> Study:
    """A study of these sessions, measured once (without problems) when `run`."""
    study = init_study(root / "study", epoch_seconds=2.0)
    write_study_files(study, sessions, rois)
    study = load_study(study.root)
    if run:
        report = motion_study(study, workers=1, progress=False)
        assert report.problems == [], report.problems
    return study


def read_series(study: Study, dyad_id: str, timepoint: str) -> pd.DataFrame:
    return pd.read_csv(motion_csv_path(study, dyad_id, timepoint))


def read_record(study: Study, dyad_id: str, timepoint: str) -> dict:
    path = record_path(motion_csv_path(study, dyad_id, timepoint))
    return json.loads(path.read_text(encoding="utf-8"))


def measure(root: Path, video: Path | str, start: str = "", end: str = "",
            rois: dict = ROIS) -> tuple[pd.DataFrame, dict]:
    """Motion of one session (D1, T1) of `video`: its series and its record."""
    study = make_study(root, [("D1", "T1", video, start, end)], {("D1", "T1"): rois})
    return read_series(study, "D1", "T1"), read_record(study, "D1", "T1")


def lag_of_peak(series: pd.DataFrame, most: int = 45) -> int:
    """The lag (frames; > 0: the child follows) at which the caregiver's and the child's
    motion correlate most."""
    caregiver = series.caregiver.fillna(series.caregiver.mean()).to_numpy()
    child = series.child.fillna(series.child.mean()).to_numpy()
    caregiver, child = caregiver - caregiver.mean(), child - child.mean()
    count = len(caregiver)
    scores = {lag: float(np.dot(caregiver[max(0, -lag):count - max(0, lag)],
                                child[max(0, lag):count - max(0, -lag)]))
              for lag in range(-most, most + 1)}
    return max(scores, key=scores.get)
