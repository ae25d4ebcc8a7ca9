"""What a source video holds: its streams, first-frame time, frame grid and orientation.

The clip rate is the source's full rate: the rate of its densest stretch (the shortest common
interval between frames), snapped to a standard rate, so a variable-rate source loses no frame;
its mean rate is kept beside it to say how variable it was.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from coding_pipeline.errors import PipelineError

STANDARD_RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001),
                  Fraction(30), Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60),
                  Fraction(100), Fraction(120000, 1001), Fraction(120)]


VARIABLE_RATE = 0.015  # a mean rate further than this (relative) from the clip rate


@dataclass(frozen=True)
class Part:
    """One file of a session's recording, placed on the session's timeline."""

    path: Path
    offset: Fraction  # session seconds = this file's timestamp in seconds + offset
    start_s: float  # session time of its first frame
    end_s: float  # session time just after its last frame
    has_audio: bool


@dataclass(frozen=True)
class SourceInfo:
    """A probed source. Times are seconds from the first decoded frame (t0) of its first
    file; a recording in several files lists them in `parts` (one part for one file)."""

    path: Path
    container: str
    video_codec: str
    width: int
    height: int
    sample_aspect: Fraction
    rotation: int  # display rotation, degrees counter-clockwise (0, 90, 180, 270)
    fps: Fraction  # nominal rate: the clip's constant rate
    interlaced: bool
    t0: Fraction  # first decoded frame's timestamp in the file, seconds
    frames: int  # grid slots from t0 to the last frame, inclusive
    audio_codec: str | None
    audio_channels: int
    declared_s: float | None = None  # the picture's length the file claims, if it says
    mean_fps: float = 0.0  # frames per second actually there (less than fps when variable)
    parts: tuple[Part, ...] = ()
    notes: tuple[str, ...] = ()  # gaps and overlaps between parts

    @property
    def variable_rate(self) -> bool:
        """Whether the source's frames come at a clearly lower mean rate than the clip rate."""
        return bool(self.mean_fps) and float(self.fps) - self.mean_fps > VARIABLE_RATE * float(
            self.fps)

    @property
    def cut_short(self) -> bool:
        """Whether the file claims a clearly longer picture than what is there."""
        return self.declared_s is not None and self.declared_s - self.duration_s > max(
            1.0, float(2 / self.fps))

    @property
    def duration_s(self) -> float:
        return float(self.frames / self.fps)

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown: square pixels, rotation applied."""
        width = round(self.width * self.sample_aspect)
        return (self.height, width) if self.rotation in (90, 270) else (width, self.height)


def nominal_rate(rate: float) -> Fraction:
    """The standard frame rate within 1.5% of `rate`, else `rate` to 1/1000 fps."""
    best = min(STANDARD_RATES, key=lambda r: abs(float(r) - rate))
    if abs(float(best) - rate) <= 0.015 * rate:
        return best
    return Fraction(round(rate * 1000), 1000)


def full_rate(times: np.ndarray, reported: float | None) -> Fraction:
    """The clip rate for frames at `times` (seconds, sorted): the densest stretch's rate.

    The shortest common interval is the median of the intervals within 25% of the 5th
    percentile (robust to timestamp jitter and a few stray frames); its rate is snapped to a
    standard rate. A constant-rate file keeps the rate the file reports.
    """
    gaps = np.diff(times)
    gaps = gaps[gaps > 1e-6]
    if not gaps.size:
        return nominal_rate(reported) if reported else Fraction(30)
    shortest = float(np.percentile(gaps, 5))
    dense = nominal_rate(1 / float(np.median(gaps[gaps <= 1.25 * shortest])))
    if reported and abs(float(nominal_rate(reported)) - float(dense)) <= 0.015 * float(dense):
        return nominal_rate(reported)
    return dense


def mean_rate(times: np.ndarray, fps: Fraction) -> float:
    """Frames per second over the span of `times`, counting the last frame's own interval."""
    span = float(times[-1] - times[0]) + 1 / float(fps) if times.size else 0.0
    return len(times) / span if span > 0 else float(fps)


def probe(path: Path) -> SourceInfo:
    """Probe a one-file source (see `scan`)."""
    return scan(path)[0]


def scan(path: Path) -> tuple[SourceInfo, np.ndarray]:
    """Read a source's streams, decode its first frame and scan its frame timestamps.

    Returns the source and each frame's time in seconds from its first frame.

    Raises PipelineError (without the sessions.csv row; the caller adds it) when the file is
    missing, not a video, or its picture cannot be decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError("video file not found; check the path (relative to the study folder)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError):
        raise PipelineError(
            "not a video file FFmpeg can read; check it is the right file"
        ) from None
    with container:
        if not container.streams.video:
            raise PipelineError("the file has no picture (no video stream)")
        stream = container.streams.video[0]
        first = _first_frame(container, stream)
        t0 = first.pts * stream.time_base
        base = stream.time_base
        stamps = _frame_stamps(path, stream.index)
        audio = container.streams.audio[0] if container.streams.audio else None
        context = stream.codec_context
        interlaced = bool(first.interlaced_frame) or (context.field_order or 0) >= 2
        sample_aspect = context.sample_aspect_ratio or Fraction(1)
        audio_codec = audio.codec_context.name if audio is not None else None
        audio_channels = audio.codec_context.channels if audio is not None else 0
        container_name = container.format.name
        codec_name = context.name
        reported = stream.average_rate or stream.guessed_rate
        declared = float(stream.duration * stream.time_base) if stream.duration else None
    stamps = [stamp for stamp in stamps if stamp >= first.pts] or [first.pts]
    times = np.unique((np.asarray(stamps, dtype=np.int64) - first.pts) * float(base))
    fps = full_rate(times, float(reported) if reported else None)
    frames = round((stamps[-1] - first.pts) * base * fps) + 1
    end_s = float((stamps[-1] - first.pts) * base + 1 / fps)
    info = SourceInfo(
        path=path, container=container_name, video_codec=codec_name, width=first.width,
        height=first.height, sample_aspect=Fraction(sample_aspect),
        rotation=int(round(first.rotation or 0)) % 360, fps=fps,
        interlaced=interlaced, t0=t0, frames=frames, audio_codec=audio_codec,
        audio_channels=audio_channels, declared_s=declared, mean_fps=mean_rate(times, fps),
        parts=(Part(path, -t0, 0.0, end_s, audio_codec is not None),),
    )
    return info, times


def _first_frame(container, stream, patience: int = 300) -> av.VideoFrame:
    """The first decodable frame; damaged packets before it (a stream cut mid-GOP) are skipped."""
    failures, error = 0, ""
    for packet in container.demux(stream):
        if packet.is_corrupt:
            continue
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            failures, error = failures + 1, exc.strerror or str(exc)
            if failures < patience:
                continue
            break
        for frame in frames:
            if frame.pts is not None:
                return frame
    if failures:
        raise PipelineError(
            f"the picture cannot be decoded ({stream.codec_context.name}: {error}); the codec "
            "is unsupported or the file is damaged: convert it to MP4 (H.264) or check the copy"
        )
    raise PipelineError("no picture could be decoded; the file is empty or damaged")


def _frame_stamps(path: Path, index: int) -> list[int]:
    """Every video packet's presentation timestamp (stream time base), sorted; no decoding."""
    stamps = array("q")
    with av.open(str(path)) as container:
        stream = container.streams[index]
        try:
            for packet in container.demux(stream):
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is not None and packet.size and not packet.is_corrupt:
                    stamps.append(stamp)
        except av.error.FFmpegError:
            pass  # a file cut short: keep the timestamps read so far
    return sorted(stamps)


def clip_is_complete(path: Path, frames: int, seconds: float | None = None,
                     has_audio: bool | None = None) -> bool:
    """Whether a finished clip is whole, without decoding it.

    Its MP4 top-level boxes must tile the file exactly (a copy cut short or a clip still being
    written fails this), FFmpeg must open it, its picture must have `frames` frames lasting
    `seconds` (to within a frame), and it must have a sound stream exactly when `has_audio`.
    None skips a check.
    """
    path = Path(path)
    try:
        if not _boxes_tile_file(path):
            return False
        with av.open(str(path)) as container:
            video = container.streams.video
            if not video or video[0].frames != frames:
                return False
            if seconds is not None and frames:
                length = float((video[0].duration or 0) * video[0].time_base)
                if abs(length - seconds) > seconds / frames:
                    return False
            return has_audio is None or has_audio == bool(container.streams.audio)
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def _boxes_tile_file(path: Path) -> bool:
    """Whether the MP4's top-level boxes (ftyp, moov, mdat, ...) end exactly at the file's end."""
    size = path.stat().st_size
    found: set[bytes] = set()
    offset = 0
    with path.open("rb") as handle:
        while offset < size:
            handle.seek(offset)
            header = handle.read(16)
            if len(header) < 8:
                return False
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:
                length = size - offset
            if length < 8:
                return False
            found.add(kind)
            offset += length
    return offset == size and {b"ftyp", b"moov", b"mdat"} <= found
