"""What a motion run works on: one MotionJob per session of sessions.csv (with its ROIs from
rois.csv), each ending in a MotionOutcome, and the run's MotionReport.

A job carries the fingerprint of everything its motion series depends on: the method's version,
the recording's files (path, size, modification time), the session's start and end, its ROIs
and the [motion] settings. A session whose record holds the same fingerprint, beside its motion
CSV as written, is complete: a rerun skips it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from coding_pipeline.motion.energy import MotionSettings
from coding_pipeline.motion.files import motion_csv_path
from coding_pipeline.motion.rois import Roi
from coding_pipeline.segment.jobs import RunReport
from coding_pipeline.study import Session, Study, StudyConfig
from coding_pipeline.video.sources import source_label, video_parts

MOTION_METHOD = 1  # raise when the measurement changes: every session is measured again
RUN_DIR = ".motion"  # the run's lock files, in the study folder


@dataclass
class MotionReport(RunReport):
    """What a motion run did. `problems` are one line per session that failed."""


@dataclass(frozen=True)
class MotionJob:
    """Everything a worker process needs to measure one session (picklable)."""

    session: Session
    where: str  # "sessions.csv row N (video as written there)"
    source: str  # the recording's files as the study names them
    parts: tuple[Path, ...]  # the recording's files, in order
    rois: dict[str, tuple[float, float, float, float]]  # role -> (x, y, w, h) fractions
    settings: MotionSettings
    csv_path: Path  # STUDY/motion/<session>.csv
    fingerprint: str
    threads: int = 0  # decoding threads: 0 = the codec's choice

    @property
    def key(self) -> tuple[str, str]:
        return (self.session.dyad_id, self.session.timepoint)

    @property
    def lock_path(self) -> Path:
        """Held by the one Dask task measuring this session."""
        return self.csv_path.parent.parent / RUN_DIR / f"{self.csv_path.stem}.lock"

    def with_threads(self, threads: int) -> MotionJob:
        return replace(self, threads=threads)


@dataclass
class MotionOutcome:
    """What measuring one session did (sent back from the worker)."""

    key: tuple[str, str]
    status: str  # "done", "skipped" or "failed"
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)
    frames: int = 0


def motion_settings(config: StudyConfig) -> MotionSettings:
    """The measurement settings of study.toml's [motion]."""
    return MotionSettings(
        blur_kernel=config.motion_blur_kernel, downscale=config.motion_downscale,
        threshold=config.motion_threshold, default_threshold=config.motion_default_threshold,
        background_moved_share=config.motion_background_moved_share)


def make_motion_job(study: Study, session: Session, rois: dict[str, Roi],
                    settings: MotionSettings, where: str) -> MotionJob:
    """A session's job: its files, its ROIs' boxes and the fingerprint of its inputs."""
    parts = tuple(video_parts(study, session))
    boxes = {role: roi.box for role, roi in sorted(rois.items())}
    source = source_label(study, list(parts))
    inputs = {
        "method": MOTION_METHOD, "files": [_file_state(study, path) for path in parts],
        "start": session.start_s, "end": session.end_s, "rois": boxes,
        "settings": asdict(settings),
    }
    fingerprint = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return MotionJob(session=session, where=where, source=source, parts=parts, rois=boxes,
                     settings=settings,
                     csv_path=motion_csv_path(study, session.dyad_id, session.timepoint),
                     fingerprint=fingerprint)


def _file_state(study: Study, path: Path) -> list:
    """A file's name in the study, size and modification time (None, None if not there)."""
    try:
        status = path.stat()
    except OSError:
        return [study.relative(path), None, None]
    return [study.relative(path), status.st_size, status.st_mtime_ns]
