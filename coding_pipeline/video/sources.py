"""A session's recording as one timeline, whether it is one file or several.

`video` in sessions.csv may list several files separated by `;` in recording order, or name a
folder (its video files in name order). Camcorders (AVCHD .MTS) split a recording into files
whose timestamps continue; phones and action cameras split it into files that each restart at
0. A part that starts later than the middle of the part before it continues that part's
timestamps (a gap or overlap of more than one frame is noted with its size); one that starts
earlier restarts, and is laid end to end after the part before, using that part's own length.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import Session, Study
from coding_pipeline.video.probe import Part, SourceInfo, mean_rate, scan

VIDEO_SUFFIXES = {".mts", ".m2ts", ".ts", ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".mpg",
                  ".mpeg", ".3gp", ".wmv", ".webm", ".dv", ".mxf"}


def video_parts(study: Study, session: Session) -> list[Path]:
    """The files of a session's recording in recording order (see the module docstring)."""
    video = session.video
    if video.is_file():  # one file (even one whose name has a ';')
        return [video]
    try:
        text = video.relative_to(study.root).as_posix()
    except ValueError:
        text = str(video)
    names = [name.strip() for name in text.split(";") if name.strip()]
    if len(names) == 1 and study.absolute(names[0]).is_dir():
        folder = study.absolute(names[0])
        files = sorted((path for path in folder.iterdir() if path.is_file()
                        and not path.name.startswith(".")
                        and path.suffix.lower() in VIDEO_SUFFIXES), key=lambda p: p.name)
        return files or [folder]  # an empty folder: probe_recording says so
    return [study.absolute(name) for name in names]


def source_label(study: Study, parts: list[Path]) -> str:
    """The `source` of clips.csv: every part, as the study names it, joined by ';'."""
    return ";".join(study.relative(path) for path in parts)


def probe_recording(paths: list[Path]) -> SourceInfo:
    """Probe a recording in one or more files as one timeline (times from its first frame)."""
    for path in paths:
        if path.is_dir():
            raise PipelineError(
                f"the folder {path.name} holds no video files (" + ", ".join(
                    sorted(VIDEO_SUFFIXES)) + "); put the recording's files there or name them "
                "in sessions.csv, separated by ';'")
    if len(paths) == 1:
        return scan(paths[0])[0]
    scans = []
    for number, path in enumerate(paths, start=1):
        try:
            scans.append(scan(path))
        except PipelineError as exc:
            raise PipelineError(f"part {number} of {len(paths)} ({path.name}): {exc}") from None
    first = scans[0][0]
    parts: list[Part] = []
    notes: list[str] = []
    timeline: list[np.ndarray] = []
    declared = None
    for number, (info, times) in enumerate(scans, start=1):
        frame = 1 / float(info.fps)
        if not parts:
            offset = -info.t0
        else:
            before = parts[-1]
            continued = float(info.t0 + before.offset)
            if continued > before.start_s + (before.end_s - before.start_s) / 2:
                offset = before.offset  # timestamps continue from the part before
                jump = continued - before.end_s
                if abs(jump) > frame * 1.01:
                    kind = "gap" if jump > 0 else "overlap"
                    notes.append(
                        f"a {kind} of {abs(jump):.3f} s between part {number - 1} "
                        f"({before.path.name}) and part {number} ({info.path.name}), at "
                        f"{before.end_s:.3f} s of the session; " + (
                            "the last frame before it is shown during the gap, with silence"
                            if jump > 0 else "the overlapping frames are shown once"))
            else:
                offset = Fraction(before.end_s).limit_denominator(10**6) - info.t0
        start = float(info.t0 + offset)
        parts.append(Part(info.path, offset, start, start + float(times[-1]) + frame,
                          info.has_audio))
        timeline.append(times + start)
        if info.declared_s is not None:
            declared = start + info.declared_s
    times = np.unique(np.concatenate(timeline))
    fps = max(info.fps for info, _ in scans)  # each part's full rate
    audio = next((info for info, _ in scans if info.has_audio), None)
    return replace(
        first, fps=fps, frames=round(Fraction(times[-1]).limit_denominator(10**6) * fps) + 1,
        audio_codec=audio.audio_codec if audio else None,
        audio_channels=audio.audio_channels if audio else 0,
        declared_s=declared, mean_fps=mean_rate(times, fps), parts=tuple(parts),
        notes=tuple(notes))
