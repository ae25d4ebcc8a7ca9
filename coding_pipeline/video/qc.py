"""Recording checks on frames and sound already decoded for a clip (no second decode).

A clip is flagged
- black:  at least 80% of sampled pictures have mean brightness below 20 of 255,
- frozen: at least 80% of consecutive sampled pictures differ by less than 0.5 of 255 on
  average (a stalled camera or a still image),
- silent: at least 90% of its sound chunks are quieter than -50 dBFS RMS,
- no_audio: the source has no sound track.
Pictures are sampled twice a second, as 64x36 grayscale, and compared with OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

BLACK_LEVEL = 20.0
FROZEN_DIFFERENCE = 0.5
SILENT_RMS = 10 ** (-50 / 20)
MOSTLY = 0.8
SOUND_MOSTLY = 0.9
SAMPLE_SIZE = (64, 36)


class ClipCheck:
    """Accumulates the evidence for one clip's flags."""

    def __init__(self, has_audio: bool) -> None:
        self.has_audio = has_audio
        self.pictures = 0
        self.dark = 0
        self.still = 0
        self.previous: np.ndarray | None = None
        self.chunks = 0
        self.quiet = 0

    def add_picture(self, gray: np.ndarray) -> None:
        """A sampled picture as a small grayscale uint8 array."""
        self.pictures += 1
        if cv2.mean(gray)[0] < BLACK_LEVEL:
            self.dark += 1
        if self.previous is not None and cv2.mean(cv2.absdiff(gray, self.previous))[0] < (
                FROZEN_DIFFERENCE):
            self.still += 1
        self.previous = gray

    def add_sound(self, samples: np.ndarray) -> None:
        """A chunk of planar float samples (channels x samples)."""
        if samples.size == 0:
            return
        self.chunks += 1
        if float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) < SILENT_RMS:
            self.quiet += 1

    def flags(self) -> list[str]:
        found = []
        if self.pictures and self.dark >= MOSTLY * self.pictures:
            found.append("black")
        if self.pictures > 1 and self.still >= MOSTLY * (self.pictures - 1):
            found.append("frozen")
        if not self.has_audio:
            found.append("no_audio")
        elif self.chunks and self.quiet >= SOUND_MOSTLY * self.chunks:
            found.append("silent")
        return found

    def label(self) -> str:
        """'ok' or the flags joined by ';' (e.g. 'black;silent')."""
        return ";".join(self.flags()) or "ok"
