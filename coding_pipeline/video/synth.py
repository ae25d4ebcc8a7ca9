"""Synthetic session recordings: a moving picture with sound, made on the spot.

The demo and the tests use these instead of downloaded files. Every frame carries its own
index as a strip of 16 black/white blocks along the bottom edge (bit 0 on the left), so a test
can read from a decoded clip exactly which source frames it holds; optional flashes (the top
right quarter turns white) come with a beep at the same instant, to measure sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

INDEX_BITS = 16
SAMPLE_RATE = 48000
BEEP_HZ = 2000.0


@dataclass(frozen=True)
class Layout:
    """Where the index strip and the flash patch sit in a width x height picture."""

    width: int
    height: int

    @property
    def strip_top(self) -> int:
        return self.height - max(8, self.height // 10)

    def flash_box(self) -> tuple[slice, slice]:
        return slice(0, self.height // 3), slice(self.width * 2 // 3, self.width)

    def bit_centres(self) -> list[tuple[int, int]]:
        """(row, column) of each index block's centre, bit 0 first."""
        row = (self.strip_top + self.height) // 2
        block = self.width / INDEX_BITS
        return [(row, int(block * (bit + 0.5))) for bit in range(INDEX_BITS)]


def read_index(rgb: np.ndarray) -> int:
    """The frame index written into a picture by `render_frame` (after any scaling)."""
    layout = Layout(rgb.shape[1], rgb.shape[0])
    value = 0
    for bit, (row, column) in enumerate(layout.bit_centres()):
        if rgb[row, column].mean() > 128:
            value |= 1 << bit
    return value


def is_flash(rgb: np.ndarray) -> bool:
    """Whether a picture shows the white flash patch."""
    rows, columns = Layout(rgb.shape[1], rgb.shape[0]).flash_box()
    return float(rgb[rows, columns].mean()) > 128


class Painter:
    """Draws frame `index`: a drifting colour gradient, a bouncing square, the index strip."""

    def __init__(self, width: int, height: int, seed: int = 0) -> None:
        self.layout = Layout(width, height)
        rng = np.random.default_rng(seed)
        colours = rng.integers(40, 200, size=(2, 3)).astype(np.float32)
        ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[:, None]
        row = (colours[0] * (1 - ramp) + colours[1] * ramp).astype(np.uint8)
        self.background = np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)))
        self.square_colour = rng.integers(0, 256, size=3).astype(np.uint8)
        self.speed = (int(rng.integers(3, 9)), int(rng.integers(2, 7)))
        self.size = max(8, height // 5)

    def frame(self, index: int, flash: bool = False, frozen_at: int | None = None,
              black: bool = False, fields: bool = False) -> np.ndarray:
        """Frame `index`; with `fields`, the odd lines show the motion half a frame later
        (an interlaced camera's second field)."""
        layout = self.layout
        if frozen_at is not None:
            index = min(index, frozen_at)  # a stalled camera repeats one picture, strip too
        if black:
            picture = np.zeros((layout.height, layout.width, 3), np.uint8)
        else:
            picture = self._scene(2 * index)
            if fields:
                picture[1::2] = self._scene(2 * index + 1)[1::2]
        rows, columns = layout.flash_box()
        picture[rows, columns] = 255 if flash else 0
        block = layout.width / INDEX_BITS
        picture[layout.strip_top:] = 0
        for bit in range(INDEX_BITS):
            if index >> bit & 1:
                picture[layout.strip_top:, int(block * bit):int(block * (bit + 1))] = 255
        return picture


    def _scene(self, half_frames: int) -> np.ndarray:
        """The moving background and square, half_frames / 2 frames into the motion."""
        picture = np.roll(self.background, 2 * half_frames, axis=1)
        x = _bounce(half_frames * self.speed[0], self.layout.width - self.size)
        y = _bounce(half_frames * self.speed[1], self.layout.strip_top - self.size)
        picture[y:y + self.size, x:x + self.size] = self.square_colour
        return picture


def _bounce(position: int, span: int) -> int:
    span = max(span, 1)
    position %= 2 * span
    return position if position < span else 2 * span - position


def render_audio(seconds: float, rate: int = SAMPLE_RATE, seed: int = 0,
                 beeps: Sequence[float] = (), beep_seconds: float = 0.05,
                 silent: bool = False, channels: int = 2) -> np.ndarray:
    """Planar float audio (channels x samples): a soft melody, loud beeps at `beeps` seconds."""
    samples = max(0, round(seconds * rate))
    if silent:
        return np.zeros((channels, samples), np.float32)
    rng = np.random.default_rng(seed + 1)
    notes = rng.choice([220.0, 247.5, 277.2, 330.0, 370.0, 440.0], size=int(seconds * 2) + 2)
    t = np.arange(samples) / rate
    frequency = notes[(t * 2).astype(int)]
    phase = 2 * np.pi * np.cumsum(frequency) / rate
    level = 0.08 if beeps else 0.25
    signal = level * np.sin(phase) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    for at in beeps:
        first, last = round(at * rate), round((at + beep_seconds) * rate)
        if 0 <= first < samples:
            span = np.arange(first, min(last, samples))
            signal[span] = 0.8 * np.sin(2 * np.pi * BEEP_HZ * span / rate)
    fade = min(samples, rate // 100)  # a 10 ms fade-in: no click at the very start
    signal[:fade] *= np.linspace(0.0, 1.0, fade)
    return np.repeat(signal[None, :].astype(np.float32), channels, axis=0)


def write_sample_video(
    path: str | Path, seconds: float, fps: float | Fraction = 30, width: int = 640,
    height: int = 360, seed: int = 0, *, flashes: Sequence[float] = (),
    audio: bool = True, silent: bool = False, audio_seconds: float | None = None,
    audio_offset: float = 0.0, start_offset: float = 0.0,
    frame_times: Sequence[float] | None = None, container_format: str | None = None,
    video_codec: str = "libx264", audio_codec: str = "aac", rotation: int = 0,
    interlaced: bool = False, black_frames: tuple[int, int] | None = None,
    frozen_from: int | None = None, crf: int = 28, channels: int = 1, noise: int = 0,
) -> Path:
    """Write a recording with a moving picture and audible sound; return its path.

    `flashes` are times (seconds from the first frame) at which the frame nearest each time
    is a flash and a beep starts. `frame_times` gives each frame's time for a variable-rate
    file. `audio_offset` starts the sound later (>0) or earlier (<0) than the picture and
    `audio_seconds` sets its length (default: as long as the picture). `start_offset` shifts
    every timestamp, as camcorders do. `rotation` stores a display rotation (phone video).
    `noise` adds camera-like grain of that many levels (slower to encode, like real video).
    `interlaced` weaves two fields half a frame apart (top field first) and codes them so.
    """
    path = Path(path)
    fps = Fraction(fps).limit_denominator(1001)
    constant_rate = frame_times is None
    if frame_times is None:
        frame_times = [float(i / fps) for i in range(round(seconds * fps))]
    flash_frames = {min(range(len(frame_times)), key=lambda i: abs(frame_times[i] - at))
                    for at in flashes}
    time_base = Fraction(1, 90000) if not constant_rate or start_offset else 1 / fps
    options = {"movflags": "+faststart"} if path.suffix.lower() in {".mp4", ".mov"} else {}
    with av.open(str(path), "w", format=container_format, options=options) as output:
        video = _video_stream(output, video_codec, fps, (width, height), time_base,
                              interlaced, crf, rotation)
        sound = None
        if audio:
            length = frame_times[-1] + 1 / float(fps) if audio_seconds is None else audio_seconds
            beeps = [frame_times[i] - audio_offset for i in sorted(flash_frames)]
            sound = _audio_writer(output, audio_codec, channels, length, seed, beeps, silent,
                                  start_offset + audio_offset)
        painter = Painter(width, height, seed)
        grain = _grain(width, height, time_base, noise) if noise else None
        for index, at in enumerate(frame_times):
            black = black_frames is not None and black_frames[0] <= index < black_frames[1]
            picture = painter.frame(index, flash=index in flash_frames, frozen_at=frozen_from,
                                    black=black, fields=interlaced)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = round((at + start_offset) / time_base)
            frame.time_base = time_base
            if grain is not None:
                grain.push(frame)
                frame = grain.pull()
            output.mux(video.encode(frame))
            if sound is not None:
                sound.write_until(at + start_offset + 0.5)
        output.mux(video.encode(None))
        if sound is not None:
            sound.write_until(None)
    return path


def _video_stream(output, codec: str, fps: Fraction, size: tuple[int, int],
                  time_base: Fraction, interlaced: bool, crf: int, rotation: int):
    """The picture stream of a generated recording."""
    video = output.add_stream(codec, rate=fps)
    video.width, video.height = size
    video.pix_fmt = {"mjpeg": "yuvj420p", "dvvideo": "yuv411p"}.get(codec, "yuv420p")
    video.time_base = time_base
    video.codec_context.time_base = time_base
    if codec == "libx264":
        params = "interlaced=1:tff=1" if interlaced else ""
        video.options = {"preset": "ultrafast", "crf": str(crf), "x264-params": params}
    if rotation:
        video.set_display_rotation(rotation)
    return video


def _audio_writer(output, codec: str, channels: int, length: float, seed: int,
                  beeps: list[float], silent: bool, offset: float) -> _AudioWriter:
    """The sound stream of a generated recording, with its samples ready to write."""
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    stream = output.add_stream(codec, rate=SAMPLE_RATE, layout=layout)
    stream.bit_rate = 128000
    samples = render_audio(length, seed=seed, beeps=beeps, silent=silent, channels=channels)
    return _AudioWriter(output, stream, samples, offset, layout)


def _grain(width: int, height: int, time_base: Fraction, strength: int) -> av.filter.Graph:
    """A filter graph adding temporal camera-like noise (FFmpeg's noise filter)."""
    graph = av.filter.Graph()
    graph.link_nodes(
        graph.add("buffer", f"video_size={width}x{height}:pix_fmt=rgb24:"
                            f"time_base={time_base.numerator}/{time_base.denominator}"),
        graph.add("format", "yuv420p"),
        graph.add("noise", f"alls={strength}:allf=t+u"),
        graph.add("buffersink"),
    ).configure()
    return graph


class _AudioWriter:
    """Encodes planar float samples in step with the picture; the first at `start` seconds."""

    chunk = 1024

    def __init__(self, output, stream, samples: np.ndarray, start: float, layout: str) -> None:
        self.output, self.stream, self.layout = output, stream, layout
        self.first = round(start * SAMPLE_RATE)
        if self.first < 0:
            samples, self.first = samples[:, -self.first:], 0
        self.samples = samples
        self.done = 0

    def write_until(self, seconds: float | None) -> None:
        """Encode the samples before `seconds` (all of them, and flush, for None)."""
        total = self.samples.shape[1]
        limit = total if seconds is None else min(total, round(seconds * SAMPLE_RATE) - self.first)
        while self.done < limit:
            piece = np.ascontiguousarray(self.samples[:, self.done:self.done + self.chunk])
            frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=self.layout)
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self.first + self.done
            frame.time_base = Fraction(1, SAMPLE_RATE)
            self.output.mux(self.stream.encode(frame))
            self.done += piece.shape[1]
        if seconds is None:
            self.output.mux(self.stream.encode(None))
