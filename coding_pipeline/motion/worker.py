"""The per-session worker: `measure_session` skips a complete session or measures it.

It runs in a worker process (local pool or Dask worker) with nothing but its MotionJob: probe
the recording (one file or several), find the grid slots of the session's start/end window,
decode the window once through video.frames.GridReader (deinterlaced, rotated, every slot at
the full rate), feed each frame's grey picture (its luma plane, as decoded: no conversion) to
the MotionEnergyAccumulator, then write motion/<session>.csv and its record
motion/<session>.json (see files.py), each atomically. The decoder's threads already use every
core, so OpenCV measures in this thread alone (its own worker threads would only compete with
decoding for the same cores).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict

import cv2
import numpy as np

from coding_pipeline.errors import PipelineError
from coding_pipeline.motion.energy import BACKGROUND, MotionEnergy, MotionEnergyAccumulator
from coding_pipeline.motion.files import motion_table, record_path, write_motion_csv
from coding_pipeline.motion.jobs import MotionJob, MotionOutcome
from coding_pipeline.segment.worker import ReportProgress
from coding_pipeline.study import write_json_atomic
from coding_pipeline.video.frames import LUMA, GridReader, Picture, SourceError, luma_plane
from coding_pipeline.video.plan import PlanError, plan_window
from coding_pipeline.video.probe import SourceInfo
from coding_pipeline.video.sources import probe_recording

GREY = Picture(size=None, pix_fmt=LUMA)  # the luma plane as decoded (rotated, deinterlaced)
PROGRESS_EVERY = 15  # slots between progress reports


def measure_session(job: MotionJob, report: ReportProgress | None = None) -> MotionOutcome:
    """Measure one session's motion energy, or skip it when its files are complete.

    `report(key, frames_done, frames_total, fps)` receives progress now and then.
    """
    outcome = MotionOutcome(job.key, "failed")
    if is_complete(job):
        outcome.status = "skipped"
        return outcome
    where = job.where
    try:
        with _opencv_in_this_thread():
            return _measure(job, outcome, report)
    except (PipelineError, PlanError) as exc:
        outcome.problem = f"{where}: {exc}."
    except SourceError as exc:
        outcome.problem = (
            f"{where}: the video could not be decoded ({exc}); convert the file to MP4 "
            "(H.264) and rerun, and please report the file's kind to us.")
    except OSError as exc:
        outcome.problem = (
            f"{where}: its motion series could not be written ({exc}); check that the study "
            "folder has free space and is writable, then rerun (finished sessions are kept).")
    except Exception as exc:  # one odd failure must not stop the other sessions
        outcome.problem = (
            f"{where}: measuring motion stopped on an unexpected error ({type(exc).__name__}: "
            f"{exc}); rerun (finished sessions are kept) and report it to us if it happens "
            "again.")
    return outcome


def is_complete(job: MotionJob) -> bool:
    """Whether the session's record holds this job's fingerprint and its CSV is as written."""
    try:
        record = json.loads(record_path(job.csv_path).read_text(encoding="utf-8"))
        written = job.csv_path.stat()
    except (OSError, ValueError):
        return False
    return (isinstance(record, dict) and record.get("fingerprint") == job.fingerprint
            and record.get("csv") == {"size": written.st_size, "mtime_ns": written.st_mtime_ns})


@contextmanager
def _opencv_in_this_thread() -> Iterator[None]:
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def _measure(job: MotionJob, outcome: MotionOutcome,
             report: ReportProgress | None) -> MotionOutcome:
    """Probe, decode the window once, measure and write the session's files."""
    info = probe_recording(list(job.parts))
    outcome.warnings.extend(f"{job.where}: {note}." for note in info.notes)
    first, end = _window(job, info, outcome.warnings)
    meter = MotionEnergyAccumulator(job.rois, job.settings)
    reader = GridReader(info, first, end, GREY, job.threads)
    slots, repeated = [], []
    fps = float(info.fps)
    with closing(reader.frames()) as frames:
        for slot, frame, repeat in frames:
            meter.feed(luma_plane(frame))
            slots.append(slot)
            repeated.append(repeat)
            if report is not None and slot % PROGRESS_EVERY == 0:
                report(job.key, slot - first + 1, end - first, fps)
    if not slots:
        outcome.problem = f"{job.where}: no frame could be decoded in the requested window."
        return outcome
    outcome.warnings.extend(f"{job.where}: {warning}." for warning in _read_warnings(
        reader, info, end))
    energy = meter.result()
    after_start = np.isin(np.array(slots) - 1, reader.deinterlace_starts)
    table = motion_table(np.array(slots), fps, energy, np.array(repeated, dtype=bool),
                         after_start)
    write_motion_csv(job.csv_path, table)
    _write_record(job, info, energy, slots, repeated)
    outcome.status = "done"
    outcome.frames = len(slots)
    return outcome


def _window(job: MotionJob, info: SourceInfo, warnings: list[str]) -> tuple[int, int]:
    """Grid slots [first, end) of the session's window, warning when the video ends early."""
    session = job.session
    window = plan_window(info.frames, info.fps, session.start_s, session.end_s)
    if info.cut_short:
        warnings.append(
            f"{job.where}: the file ends early: only {info.duration_s:.2f} s of its "
            f"{info.declared_s:.2f} s of picture are there (battery died or copy cut short?); "
            f"motion is measured over the usable {info.duration_s:.2f} s.")
    if session.end_s is not None and session.end_s > info.duration_s + 1 / info.fps:
        warnings.append(
            f"{job.where}: end {session.end_s:g} s is after the video ends "
            f"({info.duration_s:.2f} s); motion is measured to the end of the video.")
    return window


def _read_warnings(reader: GridReader, info: SourceInfo, end: int) -> list[str]:
    warnings = []
    if reader.dropped:
        warnings.append(
            f"{reader.dropped} source frame(s) left out: each came less than one frame after "
            f"the frame before (faster than the full rate, {float(info.fps):g} fps, or an "
            "overlap between parts)")
    if reader.reached < end:
        warnings.append(
            f"the video decodes only to {reader.reached / float(info.fps):.2f} s of "
            f"{info.duration_s:.2f} s (file cut short or damaged?); motion was measured on "
            "what decodes")
    return warnings


def _write_record(job: MotionJob, info: SourceInfo, energy: MotionEnergy, slots: list[int],
                  repeated: list[bool]) -> None:
    """motion/<session>.json: how the series was measured, and the fingerprint of its inputs."""
    written = job.csv_path.stat()
    moved = energy.background_moved_share if BACKGROUND in energy.energy else None
    record = {
        "dyad_id": job.session.dyad_id, "timepoint": job.session.timepoint,
        "source": job.source, "start": job.session.start_s, "end": job.session.end_s,
        "fps": float(info.fps), "fps_exact": f"{info.fps.numerator}/{info.fps.denominator}",
        "first_time_s": slots[0] / float(info.fps), "frames": len(slots),
        "repeated_frames": int(sum(repeated)), "rois": job.rois,
        "settings": asdict(job.settings), "threshold": energy.threshold,
        "threshold_source": energy.threshold_source,
        "background_moved_share": moved if moved is not None and math.isfinite(moved) else None,
        "fingerprint": job.fingerprint,
        "csv": {"size": written.st_size, "mtime_ns": written.st_mtime_ns},
    }
    write_json_atomic(record_path(job.csv_path), record)
