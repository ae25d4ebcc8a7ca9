"""One still frame per session, as shown (rotation and pixel shape applied), to draw ROIs on.

The frame is taken 10 s after the session's start (sessions.csv `start`), or at the middle of
a session shorter than 20 s: early enough to show the usual set-up, late enough that people have
settled. Interlaced footage keeps one field (its even lines, stretched back to full height), so
the still shows no combing. Frames are written as JPEG under the study folder, with its file
permissions (atomic writes, created by this process under the study's umask).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import Session, Study, write_bytes_atomic
from coding_pipeline.video.probe import Part, SourceInfo
from coding_pipeline.video.sources import probe_recording, video_parts

SETTLE_S = 10.0  # seconds after the session's start
JPEG_QUALITY = 92
_ROTATE = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180,
           270: cv2.ROTATE_90_CLOCKWISE}  # display rotation, degrees counter-clockwise


@dataclass(frozen=True)
class StillFrame:
    """A session's still: BGR pixels as displayed, and its time in the session (seconds from
    the recording's first frame, as sessions.csv's start and end)."""

    image: np.ndarray
    time_s: float

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


def still_time(info: SourceInfo, session: Session) -> float:
    """When to take the still: start + 10 s, or the middle of a shorter session.

    >>> from types import SimpleNamespace as S
    >>> still_time(S(duration_s=600.0), S(start_s=30.0, end_s=None))
    40.0
    >>> still_time(S(duration_s=600.0), S(start_s=0.0, end_s=8.0))
    4.0
    """
    start = session.start_s or 0.0
    end = session.end_s if session.end_s is not None else info.duration_s
    return start + min(SETTLE_S, max(end - start, 0.0) / 2)


def session_still(study: Study, session: Session) -> StillFrame:
    """The still of a session (see the module docstring); PipelineError names the row."""
    try:
        info = probe_recording(video_parts(study, session))
        at = still_time(info, session)
        part = next((p for p in info.parts if p.start_s <= at < p.end_s), info.parts[-1])
        frame = _decode_at(part, at)
    except PipelineError as exc:
        raise PipelineError(f"{session.where}: {exc}") from None
    return StillFrame(image=displayed(frame, info), time_s=at)


def _decode_at(part: Part, at: float) -> av.VideoFrame:
    """The first frame at or after session time `at` in `part` (else its last frame). Seeks
    near it first; a file that cannot be decoded from there (MPEG-TS seeks by bytes and may
    land between key frames) is decoded from its start."""
    target = at - float(part.offset)  # the file's own timestamp, in seconds
    try:
        frame, found = _first_frame_from(part.path, target, seek=target > 1.0)
        if not found and target > 1.0:
            frame, found = _first_frame_from(part.path, target, seek=False)
    except av.error.FFmpegError as exc:
        raise PipelineError(f"{part.path.name} could not be decoded ({exc}); check the "
                            "file") from None
    if frame is None:
        raise PipelineError(f"no picture could be decoded from {part.path.name}; check the file")
    return frame


def _first_frame_from(path: Path, target: float, seek: bool) -> tuple[av.VideoFrame | None,
                                                                      bool]:
    """(first frame at or after `target` seconds, True), else (the last frame decoded, False)."""
    last = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if seek:
            container.seek(int((target - 1.0) / stream.time_base), stream=stream,
                           backward=True)
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for frame in frames:
                last = frame
                if frame.time is not None and frame.time >= target - 1e-6:
                    return frame, True
    return last, False


def displayed(frame: av.VideoFrame, info: SourceInfo) -> np.ndarray:
    """BGR pixels as a player shows them: one field of interlaced footage, square pixels,
    the display rotation applied."""
    image = frame.to_ndarray(format="bgr24")
    height, width = image.shape[:2]
    if info.interlaced:
        image = cv2.resize(image[::2], (width, height), interpolation=cv2.INTER_LINEAR)
    shown_width = round(width * info.sample_aspect)
    if shown_width != width:
        image = cv2.resize(image, (shown_width, height), interpolation=cv2.INTER_AREA)
    if info.rotation in _ROTATE:
        image = cv2.rotate(image, _ROTATE[info.rotation])
    return np.ascontiguousarray(image)


def write_jpeg(path: Path, image: np.ndarray) -> None:
    """A BGR picture as a JPEG file, written atomically."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise PipelineError(f"{path}: the still frame could not be encoded as JPEG.")
    write_bytes_atomic(path, data.tobytes())
