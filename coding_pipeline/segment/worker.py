"""The per-session worker: `process_session` skips a complete session or cuts what it lacks.

It runs in a worker process (local pool or Dask worker) with nothing but its SessionJob:
probe the recording, plan its epochs, reuse the clip ids of an interrupted or earlier cut
(STUDY/.segment/<session>.json, rewritten after each clip), cut, and return the clips' rows.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from coding_pipeline.errors import PipelineError
from coding_pipeline.segment.jobs import SessionJob, SessionOutcome, plan_field
from coding_pipeline.study import CLIP_ID, write_json_atomic
from coding_pipeline.video.cut import ClipJob, ClipResult, SourceError, cut_session
from coding_pipeline.video.plan import Epoch, PlanError, plan_epochs
from coding_pipeline.video.probe import SourceInfo, clip_is_complete
from coding_pipeline.video.sources import probe_recording

MAX_CLIPS_PER_SESSION = 20_000  # more means an epoch typed wrong (0.001 for 10)

ReportProgress = Callable[[tuple[str, str], int, int, float], None]
"""`report(key, slots_done, slots_total, fps)`: where a session's cut has got to."""


def process_session(job: SessionJob, report: ReportProgress | None = None) -> SessionOutcome:
    """Segment one session: skip it if complete, else cut what is missing.

    `report(key, slots_done, slots_total, fps)` receives progress now and then.
    """
    where = job.where
    outcome = SessionOutcome(job.key, "failed")
    changed = [row for row in job.existing
               if row.get("source") != job.source or row.get("plan") != job.plan]
    if job.existing and not changed and all(_intact(job, row) for row in job.existing):
        outcome.status = "skipped"
        return outcome
    if changed and job.pushed:
        outcome.problem = f"{where}: {_refusal(job, changed[0])}"
        return outcome
    try:
        return _cut(job, outcome, report)
    except (PipelineError, PlanError) as exc:
        outcome.problem = f"{where}: {exc}."
    except SourceError as exc:
        outcome.problem = (
            f"{where}: the video could not be decoded ({exc}); convert the file to MP4 "
            "(H.264/AAC) and rerun, and please report the file's kind to us.")
    except OSError as exc:
        outcome.problem = (
            f"{where}: its clips could not be written ({exc}); check that the study folder "
            "has free space and is writable, then rerun (finished clips are kept).")
    except Exception as exc:  # one odd failure must not stop the other sessions
        outcome.problem = (
            f"{where}: segmenting stopped on an unexpected error ({type(exc).__name__}: "
            f"{exc}); rerun (finished clips are kept) and report it to us if it happens again.")
    return outcome


def _refusal(job: SessionJob, old: dict[str, str]) -> str:
    """Why a session given to coders is not re-cut, and the setting that would match."""
    head = "its clips were already given to coders (batches/, ratings.csv)"
    if old.get("source") != job.source:
        return (f"{head} cut from {old.get('source')}; put that video back in sessions.csv "
                "(re-cutting would orphan their ratings).")
    plan = old.get("plan", "")
    epoch = plan_field(plan, "epoch")
    if epoch != f"{job.epoch_seconds:g}":
        return (f"{head} cut with {epoch} s epochs, not {job.epoch_seconds:g} s: rerun with "
                f"--epoch {epoch}, or set epoch_seconds = {epoch} in study.toml.")
    start, end, min_last = (plan_field(plan, name) for name in ("start", "end", "min_last"))
    if plan_field(job.plan, "min_last") != min_last:
        return (f"{head} cut with min_last_epoch = {min_last}: set min_last_epoch = {min_last}"
                " in study.toml.")
    return (f"{head} cut with start '{start}' and end '{end}'; put those times back in "
            "sessions.csv (re-cutting would orphan their ratings).")


def _intact(job: SessionJob, row: dict[str, str]) -> bool:
    """Whether a clip recorded as complete is there and whole (opened, not decoded)."""
    def number(name: str) -> float | None:
        try:
            return float(row.get(name, ""))
        except ValueError:
            return None
    frames = number("frames")
    audio = {"yes": True, "no": False}.get(row.get("has_audio", ""))
    return frames is not None and clip_is_complete(
        job.clips_dir.parent / row["file"], int(frames), number("duration_s"), audio)


def _cut(job: SessionJob, outcome: SessionOutcome,
         report: ReportProgress | None) -> SessionOutcome:
    """Probe, plan and cut a session that needs (some of) its clips made."""
    info = probe_recording(job.parts or [job.session.video])
    outcome.warnings.extend(f"{job.where}: {note}." for note in info.notes)
    epochs = _plan(job, info, outcome.warnings)
    known = _known_clips(job, len(epochs))
    clips = _clip_jobs(job, epochs, known, outcome.warnings)
    ids = known["ids"]
    manifest = {"key": list(job.key), "source": job.source, "plan": job.plan, "ids": ids,
                "rows": known["rows"]}
    write_json_atomic(job.manifest, manifest)

    def clip_done(clip: ClipResult) -> None:
        manifest["rows"][clip.path.stem] = _row(job, info, clip)
        write_json_atomic(job.manifest, manifest)

    total = epochs[-1].end_frame
    progress = None
    if report is not None:
        def progress(slots: int) -> None:
            report(job.key, slots, total, float(info.fps))
    result = cut_session(info, clips, job.settings, progress, clip_done)
    outcome.warnings.extend(f"{job.where}: {warning}." for warning in result.warnings)
    rows = [manifest["rows"][clip_id] for clip_id in ids if clip_id in manifest["rows"]]
    if not rows:
        outcome.problem = f"{job.where}: no frame could be decoded in the requested window."
        return outcome
    outcome.status = "done"
    outcome.rows = rows
    outcome.clips_written = len(result.clips)
    kept = {row["file"] for row in rows}
    outcome.replaced = [(row["clip_id"], row["file"]) for row in job.existing
                        if row["file"] not in kept]
    return outcome


def _plan(job: SessionJob, info: SourceInfo, warnings: list[str]) -> list[Epoch]:
    """The session's epochs, warning when the video ends before it should."""
    session = job.session
    where = job.where
    _check_epoch(job, info)
    epochs = plan_epochs(info.frames, info.fps, job.epoch_seconds, session.start_s,
                         session.end_s, job.min_last_epoch)
    if info.cut_short:
        warnings.append(
            f"{where}: the file ends early: only {info.duration_s:.2f} s of its "
            f"{info.declared_s:.2f} s of picture are there (battery died or copy cut short?); "
            f"clips cover the usable {info.duration_s:.2f} s."
        )
    if session.end_s is not None and session.end_s > info.duration_s + 1 / info.fps:
        warnings.append(
            f"{where}: end {session.end_s:g} s is after the video ends ({info.duration_s:.2f} s);"
            " the last clip stops at the end of the video."
        )
    return epochs


def _clip_jobs(job: SessionJob, epochs: list[Epoch], known: dict[str, Any],
               warnings: list[str]) -> list[ClipJob]:
    """One ClipJob per epoch, `done` when its clip is recorded and whole; leftovers of an
    interrupted run with other settings are removed first."""
    job.clips_dir.mkdir(parents=True, exist_ok=True)
    for leftover in filter(CLIP_ID.match, map(str, known["orphans"])):
        (job.clips_dir / f"{leftover}.mp4").unlink(missing_ok=True)
        (job.clips_dir / f".{leftover}.part.mp4").unlink(missing_ok=True)
    ids = known["ids"]
    jobs = []
    broken = []
    for epoch, clip_id in zip(epochs, ids, strict=True):
        done = clip_id in known["rows"] and _intact(job, known["rows"][clip_id])
        if clip_id in known["rows"] and not done:
            broken.append(clip_id)
        jobs.append(ClipJob(epoch, job.clips_dir / f"{clip_id}.mp4", done=done))
    if broken:
        warnings.append(
            f"{job.where}: {len(broken)} of its {len(ids)} clips recorded as complete were "
            f"missing or damaged ({', '.join(broken)}); cutting them again with the same ids.")
    return jobs


def _check_epoch(job: SessionJob, info: SourceInfo) -> None:
    """Refuse an epoch shorter than one frame, or one that makes an absurd number of clips."""
    fps = float(info.fps)
    if job.epoch_seconds * fps < 1:
        raise PipelineError(
            f"an epoch of {job.epoch_seconds:g} s is shorter than one frame of this video "
            f"(1/{fps:g} s): use --epoch {1 / fps:.3g} or more")
    start = job.session.start_s or 0.0
    end = min(job.session.end_s or info.duration_s, info.duration_s)
    count = (end - start) / job.epoch_seconds
    if count > MAX_CLIPS_PER_SESSION:
        raise PipelineError(
            f"an epoch of {job.epoch_seconds:g} s would cut {count:,.0f} clips from this "
            f"session (at most {MAX_CLIPS_PER_SESSION:,}): use --epoch "
            f"{(end - start) / MAX_CLIPS_PER_SESSION:.3g} or more")


def _known_clips(job: SessionJob, count: int) -> dict[str, Any]:
    """Clip ids to reuse (from an interrupted run or an incomplete earlier cut) or new ones.

    `orphans` are clips of an interrupted run with other settings: never in clips.csv,
    so never given to coders, and safe to remove.
    """
    orphans: list[str] = []
    if job.manifest.is_file():
        try:
            saved = json.loads(job.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
        listed = {row["clip_id"] for row in job.existing}
        if (saved.get("source"), saved.get("plan")) == (job.source, job.plan) and len(
                saved.get("ids", [])) == count:
            return {"ids": saved["ids"], "rows": saved.get("rows", {}), "orphans": orphans}
        orphans = [clip_id for clip_id in saved.get("ids", []) if clip_id not in listed]
    same = [row for row in job.existing
            if row.get("source") == job.source and row.get("plan") == job.plan]
    if same and len(same) == count:
        ordered = sorted(same, key=lambda row: int(row.get("epoch_index") or 0))
        return {"ids": [row["clip_id"] for row in ordered],
                "rows": {row["clip_id"]: row for row in ordered}, "orphans": orphans}
    return {"ids": [secrets.token_hex(6) for _ in range(count)], "rows": {}, "orphans": orphans}


def _row(job: SessionJob, info: SourceInfo, clip: ClipResult) -> dict[str, str]:
    """The clips.csv row of a clip just cut."""
    session = job.session
    return {
        "clip_id": clip.path.stem, "dyad_id": session.dyad_id, "timepoint": session.timepoint,
        "arm": session.arm, "source": job.source, "start_s": f"{clip.epoch.start_s:.6f}",
        "end_s": f"{clip.end_s:.6f}", "file": f"{job.clips_dir.name}/{clip.path.name}",
        "fps": f"{round(float(info.fps), 6):g}", "frames": str(clip.frames),
        "qc": ";".join([flag for flag in clip.qc.split(";") if flag != "ok"]
                       + (["variable_rate"] if info.variable_rate else [])) or "ok",
        "duration_s": f"{clip.end_s - clip.epoch.start_s:.6f}",
        "epoch_index": str(clip.epoch.index), "session_row": str(session.row),
        "width": str(clip.width), "height": str(clip.height),
        "has_audio": "yes" if clip.has_audio else "no", "plan": job.plan,
        "source_fps": f"{info.mean_fps:.3f}", "repeated_frames": str(clip.repeated),
    }
