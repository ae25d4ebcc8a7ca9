"""Epoch planning on a session's frame grid (pure: no files, no video).

Time 0 of a session is its first decoded frame. Frame slots sit on a grid at the nominal rate
`fps`: slot g is at g / fps seconds. Epoch k of length E starting at `start` covers the slots
[ceil((start + k*E) * fps), ceil((start + (k+1)*E) * fps)), so consecutive epochs share no
slot and leave none out. A last remainder shorter than `min_last_epoch` x E joins the epoch
before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Epoch:
    """One planned clip: frame slots [first_frame, end_frame) of the session's grid."""

    index: int
    first_frame: int
    end_frame: int
    fps: Fraction

    @property
    def frames(self) -> int:
        return self.end_frame - self.first_frame

    @property
    def start_s(self) -> float:
        return float(self.first_frame / self.fps)

    @property
    def end_s(self) -> float:
        return float(self.end_frame / self.fps)


class PlanError(ValueError):
    """The requested window does not fit the video (the message says why)."""


def exact(seconds: float) -> Fraction:
    """A float of seconds as the decimal number it was written as (0.1 -> 1/10)."""
    return Fraction(repr(float(seconds)))


def frame_at(seconds: float | Fraction, fps: Fraction) -> int:
    """The first grid slot at or after `seconds`: ceil(seconds * fps)."""
    value = seconds if isinstance(seconds, Fraction) else exact(seconds)
    return math.ceil(value * fps)


def plan_window(total_frames: int, fps: Fraction, start_s: float | None = None,
                end_s: float | None = None) -> tuple[int, int]:
    """Grid slots [first, end) of a session's start/end window (the whole video when None)."""
    duration = float(total_frames / fps)
    start = exact(start_s or 0.0)
    first = frame_at(start, fps)
    last = total_frames if end_s is None else min(frame_at(end_s, fps), total_frames)
    if first >= total_frames:
        raise PlanError(
            f"start {float(start):g} s is beyond the end of the video ({duration:.3f} s)"
        )
    if first >= last:
        raise PlanError(f"start {float(start):g} s is not before end {end_s:g} s")
    return first, last


def plan_epochs(
    total_frames: int, fps: Fraction, epoch_seconds: float, start_s: float | None = None,
    end_s: float | None = None, min_last_epoch: float = 0.5,
) -> list[Epoch]:
    """Split grid slots [start, end) of a `total_frames`-slot session into epochs."""
    if epoch_seconds <= 0:
        raise PlanError(f"the epoch must be more than 0 seconds (got {epoch_seconds:g})")
    first, last = plan_window(total_frames, fps, start_s, end_s)
    start = exact(start_s or 0.0)
    epoch = exact(epoch_seconds)
    bounds = [first]
    k = 1
    while bounds[-1] < last:
        bounds.append(min(frame_at(start + k * epoch, fps), last))
        k += 1
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < min_last_epoch * epoch * fps:
        del bounds[-2]
    return [Epoch(i, a, b, fps) for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))]
