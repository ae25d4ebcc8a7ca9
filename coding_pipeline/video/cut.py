"""Cut one session into clips in a single decoding pass (PyAV).

The picture is decoded once and placed on the session's constant-rate frame grid by
frames.GridReader (deinterlaced, rotated, scaled, yuv420p; a slot without a frame of its own
repeats the frame before), then encoded into the clip whose epoch holds its slot. The sound is
decoded once by a second reader, resampled, and cut by sample position on the same timeline, so
each clip's audio starts and ends with its picture. Every clip is written to a temporary name
and renamed when complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from coding_pipeline.video.frames import GridReader, Picture, SourceError
from coding_pipeline.video.plan import Epoch
from coding_pipeline.video.probe import SourceInfo
from coding_pipeline.video.qc import SAMPLE_SIZE, ClipCheck

AUDIO_RATE = 48000
RESYNC_SECONDS = 0.03  # audio timestamps further than this from the running count re-anchor it


@dataclass(frozen=True)
class EncodeSettings:
    """How clips are encoded: browser-safe H.264 High + AAC in MP4 with +faststart."""

    max_height: int = 720
    crf: int = 23
    preset: str = "veryfast"
    audio_bitrate: int = 128000
    threads: int = 0  # CPU threads for one session: 0 = the codecs' choice (every core)


@dataclass
class ClipJob:
    """One planned clip: its epoch, its final path, and whether it is already complete."""

    epoch: Epoch
    path: Path
    done: bool = False


@dataclass
class ClipResult:
    """A clip written: `frames` from its epoch's first slot (fewer if the file ended early),
    `repeated` of them repeating the frame before (no frame of the source in that slot)."""

    epoch: Epoch
    path: Path
    frames: int
    qc: str
    width: int
    height: int
    has_audio: bool
    repeated: int = 0

    @property
    def end_s(self) -> float:
        return float((self.epoch.first_frame + self.frames) / self.epoch.fps)


@dataclass
class CutResult:
    """The clips written in one pass, and warnings about the source."""

    clips: list[ClipResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def output_size(info: SourceInfo, max_height: int) -> tuple[int, int]:
    """Clip width and height: display orientation, square pixels, height capped, both even."""
    width, height = info.display_size
    out_height = max(2, min(max_height, height) // 2 * 2)
    out_width = max(2, round(width * out_height / height / 2) * 2)
    return out_width, out_height


def cut_session(
    info: SourceInfo, jobs: list[ClipJob], settings: EncodeSettings,
    progress: Callable[[int], None] | None = None,
    on_clip: Callable[[ClipResult], None] | None = None,
) -> CutResult:
    """Decode `info.path` once and write every clip of `jobs` that is not done yet.

    `progress(slots)` is called now and then with the grid slots reached so far, and
    `on_clip(result)` after each clip is complete and renamed into place. Failures to read or
    convert the source raise SourceError; failures to write clips raise as they come.
    """
    cutter = _Cutter(info, jobs, settings, progress, on_clip)
    try:
        cutter.run()
    finally:
        cutter.abandon()
    return cutter.result


class _Cutter:
    def __init__(self, info: SourceInfo, jobs: list[ClipJob], settings: EncodeSettings,
                 progress: Callable[[int], None] | None,
                 on_clip: Callable[[ClipResult], None] | None) -> None:
        self.info, self.jobs, self.settings, self.progress = info, jobs, settings, progress
        self.on_clip = on_clip
        self.size = output_size(info, settings.max_height)
        self.result = CutResult()
        self.job_index = 0
        self.writer: _ClipWriter | None = None
        self.sample_every = max(1, round(float(info.fps) / 2))
        self.audio = _AudioFeed(info) if info.has_audio else None
        self.end_slot = jobs[-1].epoch.end_frame if jobs else 0

    def run(self) -> None:
        if not self.jobs or all(job.done for job in self.jobs):
            return
        reader = GridReader(self.info, self.jobs[0].epoch.first_frame, self.end_slot,
                            Picture(self.size, "yuv420p"), self.settings.threads)
        with closing(reader.frames()) as frames:
            for slot, frame, repeat in frames:
                self._emit(slot, frame, repeat)
        self._finish_clip()
        if reader.dropped:
            dropped = reader.dropped
            self.result.warnings.append(
                f"{dropped} source frame{'s' if dropped > 1 else ' was'} "
                f"{'were ' if dropped > 1 else ''}left out: each came less than one frame "
                f"after the frame before (faster than the clips' {float(self.info.fps):g} fps, "
                "or an overlap between parts)")
        if reader.reached < self.end_slot:
            reached = float(reader.reached / self.info.fps)
            self.result.warnings.append(
                f"the video decodes only to {reached:.2f} s of {self.info.duration_s:.2f} s "
                "(file cut short or damaged?); clips were made from what decodes"
            )

    def abandon(self) -> None:
        """Remove a half-written clip after an error (the completed ones stay)."""
        if self.writer is not None:
            self.writer.discard()
            self.writer = None
        if self.audio is not None:
            self.audio.close()

    def _emit(self, slot: int, frame: av.VideoFrame, repeat: bool) -> None:
        while self.jobs[self.job_index].epoch.end_frame <= slot:
            self._finish_clip()
            self.job_index += 1
        job = self.jobs[self.job_index]
        if not job.done:
            if self.writer is None:
                self.writer = _ClipWriter(job, self.info, self.settings, self.size, self.audio)
            self.writer.add(frame, slot - job.epoch.first_frame,
                            sample=(slot - job.epoch.first_frame) % self.sample_every == 0,
                            repeat=repeat)
        if self.progress is not None and slot % 15 == 0:
            self.progress(slot + 1)

    def _finish_clip(self) -> None:
        if self.writer is not None:
            clip = self.writer.close()
            self.writer = None
            self.result.clips.append(clip)
            if self.on_clip is not None:
                self.on_clip(clip)


class _ClipWriter:
    """One clip being encoded to a temporary file."""

    def __init__(self, job: ClipJob, info: SourceInfo, settings: EncodeSettings,
                 size: tuple[int, int], audio: _AudioFeed | None) -> None:
        self.job, self.info, self.audio = job, info, audio
        self.temp = job.path.with_name(f".{job.path.stem}.part.mp4")
        self.container = av.open(str(self.temp), "w", format="mp4",
                                 container_options={"movflags": "+faststart"})
        self.fps = info.fps
        video = self.container.add_stream("libx264", rate=self.fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = 1 / self.fps
        video.options = {"preset": settings.preset, "crf": str(settings.crf), "profile": "high"}
        video.codec_context.thread_type = "FRAME"  # x264 frame threads: measured fastest here
        if settings.threads:
            video.codec_context.thread_count = settings.threads
        self.video = video
        self.sound = None
        if audio is not None:
            self.sound = self.container.add_stream("aac", rate=AUDIO_RATE, layout=audio.layout)
            self.sound.bit_rate = settings.audio_bitrate
        self.frames = 0
        self.repeated = 0
        self.samples = 0
        self.check = ClipCheck(has_audio=audio is not None)
        self.first_sample = round(job.epoch.first_frame * AUDIO_RATE / self.fps)

    def add(self, frame: av.VideoFrame, index: int, sample: bool, repeat: bool) -> None:
        self.repeated += repeat
        frame.pts = index
        frame.time_base = 1 / self.fps
        self.container.mux(self.video.encode(frame))
        self.frames = index + 1
        if sample:
            small = frame.reformat(width=SAMPLE_SIZE[0], height=SAMPLE_SIZE[1], format="gray")
            self.check.add_picture(small.to_ndarray())
        self._sound_until(round(self.frames * AUDIO_RATE / self.fps))

    def _sound_until(self, end: int) -> None:
        if self.sound is None or end <= self.samples:
            return
        samples = self.audio.take(self.first_sample + self.samples, self.first_sample + end)
        self.check.add_sound(samples)
        chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout=self.audio.layout)
        chunk.sample_rate = AUDIO_RATE
        chunk.pts = self.samples
        chunk.time_base = Fraction(1, AUDIO_RATE)
        self.container.mux(self.sound.encode(chunk))
        self.samples = end

    def close(self) -> ClipResult:
        self.container.mux(self.video.encode(None))
        if self.sound is not None:
            self.container.mux(self.sound.encode(None))
        self.container.close()
        os.replace(self.temp, self.job.path)
        width, height = self.video.width, self.video.height
        return ClipResult(self.job.epoch, self.job.path, self.frames, self.check.label(),
                          width, height, self.sound is not None, self.repeated)

    def discard(self) -> None:
        try:
            self.container.close()
        finally:
            self.temp.unlink(missing_ok=True)


class _AudioFeed:
    """The source's sound as planar float samples at AUDIO_RATE, sample 0 at the first frame.

    Read forward only, file after file; each part's sound is placed by its own timestamps on
    the session's timeline. Gaps in the sound become silence, overlaps are dropped.
    """

    def __init__(self, info: SourceInfo) -> None:
        self.layout = "mono" if info.audio_channels == 1 else "stereo"
        self.channels = 1 if self.layout == "mono" else 2
        self.parts = [part for part in info.parts if part.has_audio]
        self.container = None
        self.chunks = self._chunks()
        self.buffer = np.zeros((self.channels, 0), np.float32)
        self.buffer_start = 0
        self.ended = False

    def _chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        for part in self.parts:
            try:
                self.container = av.open(str(part.path))
            except av.error.FFmpegError as exc:
                raise SourceError(f"{part.path.name}: {type(exc).__name__}: {exc}") from exc
            with self.container:
                yield from self._part_chunks(self.container, part.offset)

    def _part_chunks(self, container, offset: Fraction) -> Iterator[tuple[int, np.ndarray]]:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=AUDIO_RATE)
        position: int | None = None
        for packet in container.demux(stream):
            if packet.is_corrupt:
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for frame in frames:
                if frame.pts is not None:
                    stamp = round((frame.pts * frame.time_base + offset) * AUDIO_RATE)
                    if position is None or abs(stamp - position) > RESYNC_SECONDS * AUDIO_RATE:
                        position = stamp
                for out in resampler.resample(frame):
                    samples = out.to_ndarray()
                    if position is None:
                        position = round(offset * AUDIO_RATE)
                    yield position, samples
                    position += samples.shape[1]
        if position is not None:
            for out in resampler.resample(None):
                samples = out.to_ndarray()
                yield position, samples
                position += samples.shape[1]

    def take(self, first: int, end: int) -> np.ndarray:
        """Samples [first, end) as channels x (end - first) float32, silence where none."""
        self._drop_before(first)
        while not self.ended and self.buffer_start + self.buffer.shape[1] < end:
            try:
                position, samples = next(self.chunks)
            except StopIteration:
                self.ended = True
                break
            except Exception as exc:
                raise SourceError(f"its sound: {type(exc).__name__}: {exc}") from exc
            buffer_end = self.buffer_start + self.buffer.shape[1]
            if position > buffer_end:
                gap = np.zeros((self.channels, position - buffer_end), np.float32)
                samples = np.concatenate([gap, samples], axis=1)
            elif position < buffer_end:
                samples = samples[:, buffer_end - position:]
            self.buffer = np.concatenate([self.buffer, samples], axis=1)
            self._drop_before(first)
        out = np.zeros((self.channels, end - first), np.float32)
        have = self.buffer[:, first - self.buffer_start:end - self.buffer_start]
        out[:, :have.shape[1]] = have
        return out

    def _drop_before(self, first: int) -> None:
        if first > self.buffer_start:
            drop = min(first - self.buffer_start, self.buffer.shape[1])
            self.buffer = self.buffer[:, drop:]
            self.buffer_start += drop
            if self.buffer.shape[1] == 0:
                self.buffer_start = first

    def close(self) -> None:
        self.chunks.close()
