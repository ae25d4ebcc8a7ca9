"""Generated caregiver-child sessions whose motions are known, for the motion tests.

Two textured figures on a still textured background: the caregiver (left half) moves in bursts
at random times; the child (right half) makes the same bursts `lag_s` later, each with its own
speed (noise), plus a few bursts of its own. A top strip of background stays still (the
background ROI). Every frame gets a little grain, as a camera would. Frames can be written as a
phone file with a display rotation (the pictures below are what is displayed), as interlaced
camcorder MPEG-TS (odd lines half a frame later) or at variable rate (some frames left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROIS = {"caregiver": (0.02, 0.25, 0.46, 0.6), "child": (0.52, 0.25, 0.46, 0.6),
        "background": (0.0, 0.0, 1.0, 0.18)}
SPEED = 4.0  # pixels per frame (at 320 wide) during a burst


def textured(rng: np.random.Generator, height: int, width: int, grain: int) -> np.ndarray:
    """Random grey blocks of grain x grain pixels."""
    small = rng.integers(30, 226, (height // grain + 1, width // grain + 1)).astype(np.uint8)
    return np.kron(small, np.ones((grain, grain), np.uint8))[:height, :width]


@dataclass
class DyadScene:
    """A scene of `seconds` at `fps`, as displayed (width x height)."""

    seconds: float = 12.0
    fps: int = 30
    width: int = 320
    height: int = 240
    seed: int = 0
    lag_s: float = 0.5
    own_child_bursts: int = 3
    shake: tuple[int, ...] = ()  # frames shown shifted by (2, 3) px: a camera shake
    independent: bool = False  # the child's bursts unrelated to the caregiver's
    caregiver_speed: np.ndarray = field(init=False)
    child_speed: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        frames = round(self.seconds * self.fps)
        caregiver = self._bursts(rng, frames)
        if self.independent:
            child = self._bursts(np.random.default_rng(self.seed + 1000), frames)
        else:
            shift = round(self.lag_s * self.fps)
            child = np.concatenate([np.zeros(shift), caregiver])[:frames]
            edges = np.flatnonzero(np.diff(np.r_[0, child > 0, 0]))
            for start, end in zip(edges[::2], edges[1::2], strict=True):
                child[start:end] *= rng.uniform(0.7, 1.3)  # noise: each burst its own speed
            for _ in range(self.own_child_bursts):  # noise: a few bursts of the child's own
                start = int(rng.integers(0, frames - 8))
                child[start:start + int(rng.integers(3, 7))] = 0.6
        pixels = SPEED * self.width / 320
        self.caregiver_speed, self.child_speed = caregiver * pixels, child * pixels
        grain = max(4, self.width // 40)
        self.background = textured(rng, self.height, self.width, grain)
        self.figure_size = (self.height // 2, self.width // 5)
        self.caregiver, self.child = (textured(rng, *self.figure_size, grain) for _ in "ab")
        self.noise = np.random.default_rng(self.seed + 7)

    def _bursts(self, rng: np.random.Generator, frames: int) -> np.ndarray:
        """1 during bursts of 0.15-0.4 s, 0.4-1.2 s apart, else 0."""
        out = np.zeros(frames)
        at = self.fps // 2
        while at < frames:
            at += int(rng.uniform(0.4, 1.2) * self.fps)
            length = max(2, int(rng.uniform(0.15, 0.4) * self.fps))
            out[at:at + length] = 1.0
            at += length
        return out

    @property
    def frames(self) -> int:
        return len(self.caregiver_speed)

    def _track(self, role: str) -> np.ndarray:
        """The figure's left edge before each frame's move (pixels), bouncing in its half."""
        speed = self.caregiver_speed if role == "caregiver" else self.child_speed
        low, high = (0.04, 0.46) if role == "caregiver" else (0.54, 0.96)
        low, high = low * self.width, high * self.width - self.figure_size[1]
        travelled = np.concatenate([[0.0], np.cumsum(speed)])
        span = high - low
        folded = np.mod(travelled, 2 * span)
        return low + np.where(folded < span, folded, 2 * span - folded)

    def x(self, role: str, index: float) -> int:
        """Where the figure is drawn in frame `index` (half frames for interlaced fields)."""
        track = self._track(role)
        return int(round(np.interp(index, np.arange(len(track)), track)))

    def moved(self, role: str, before: float = 1.0, after: float = 0.0) -> np.ndarray:
        """Per frame i: whether the figure is drawn in more than one place from frame
        i - `before` to frame i + `after` (half frames included). The defaults: it moved since
        the frame before."""
        steps = np.arange(-before, after + 0.25, 0.5)
        out = np.zeros(self.frames, dtype=bool)
        for index in range(1, self.frames):
            out[index] = len({self.x(role, index + step) for step in steps}) > 1
        return out

    def picture(self, index: float) -> np.ndarray:
        """The displayed grey picture at frame `index` (half frames for interlaced fields)."""
        height, width = self.figure_size
        picture = self.background.copy()
        top = int(self.height * 0.35)
        for role, sprite in (("caregiver", self.caregiver), ("child", self.child)):
            x = self.x(role, index)
            picture[top:top + height, x:x + width] = sprite
        if int(index) in self.shake:
            picture = np.roll(picture, (2, 3), axis=(0, 1))
        grain = self.noise.normal(0, 2.0, picture.shape)
        return np.clip(picture + grain, 0, 255).astype(np.uint8)


def write_dyad_video(path: Path, scene: DyadScene, rotation: int = 0, interlaced: bool = False,
                     keep: np.ndarray | None = None, container_format: str | None = None) -> Path:
    """Encode the scene (H.264). `rotation`: stored turned back, with that display rotation;
    `interlaced`: two fields half a frame apart, coded interlaced; `keep`: frames kept (a
    variable-rate file; the others are left out, timestamps stay on the 1/fps grid)."""
    kept = range(scene.frames) if keep is None else np.flatnonzero(keep)
    time_base = Fraction(1, 90000)
    with av.open(str(path), "w", format=container_format) as output:
        stream = output.add_stream("libx264", rate=scene.fps)
        stored = (scene.height, scene.width) if rotation in (90, 270) else (scene.width,
                                                                            scene.height)
        stream.width, stream.height = stored
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        params = "interlaced=1:tff=1" if interlaced else ""
        stream.options = {"preset": "ultrafast", "crf": "18", "x264-params": params}
        if rotation:
            stream.set_display_rotation(rotation)
        for index in kept:
            grey = scene.picture(index)
            if interlaced:
                grey[1::2] = scene.picture(index + 0.5)[1::2]
            grey = np.rot90(grey, k=-rotation // 90)  # shown turned back by the player
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(grey), format="gray")
            frame.pts = round(Fraction(int(index), scene.fps) / time_base)
            frame.time_base = time_base
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path
