"""Per-frame motion energy per region of interest, fed one decoded frame at a time.

Motion Energy Analysis (Ramseyer & Tschacher 2011; Grammer et al. 1999): in a fixed shot, a
person's motion energy in a frame is the share of the pixels of their region of interest (ROI)
whose grey value changed by more than a noise threshold since the previous frame.

Per frame: grey (BGR input converted with OpenCV's weights), optionally shrunk with
`cv2.resize(..., INTER_AREA)`, optionally blurred with a Gaussian kernel, `cv2.absdiff` with the
previous frame, and for each ROI a histogram of the differences (0..63 one by one, 64 and above
pooled). Keeping histograms rather than counts lets the threshold be chosen after the last frame.
Most differences are 0 or 1, so a plain histogram adds one after another to the same counter;
pixels are therefore counted in pairs of neighbours (`class_counts`: a two-channel histogram of
65 x 65 classes over the ROI seen as pixel pairs, summed both ways): the same counts, about
twice as fast.

Noise threshold (grey levels, 0-63; a pixel counts as changed when its difference EXCEEDS it):
- `MotionSettings.threshold` when set;
- else, with a background ROI: for every frame in which the background changed at all (so
  repeated frames do not count), the 99th percentile of the background's differences; the
  threshold is the median of these over the session. On a still background, then, about 1% of
  its pixels count as changed in a typical frame;
- else `default_threshold` (DEFAULT_THRESHOLD, 10 grey levels), above the compression noise of
  typical H.264 footage after the 5x5 blur; set `threshold` after looking at a still stretch of
  the footage.

Background moved: a frame whose background share of changed pixels exceeds
`background_moved_share` (5%, five times the 1% a still background shows by the rule above) is
flagged: a camera shake or a change of light moves every ROI at once, so the frame says nothing
about the people. Without a background ROI nothing is flagged.

Shrinking: `downscale = 0.5` halves each side (a quarter of the pixels). INTER_AREA averages
2 x 2 blocks, which smooths compression noise the way a small blur does, so shares are of
fewer, cleaner pixels: the series keeps its shape, values are close to but not the same as at
full size, and the differencing costs about a quarter. Use one setting for a whole study.

Only the part of the picture that the ROIs and the blur around their edges need is shrunk,
blurred and differenced after the first frame (`_Crop`): cut before shrinking when the
shrinking factor is a whole fraction (1/2, 1/4...) that divides the picture exactly, else
after it. Every pixel of every ROI gets the value it would get from the whole picture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_THRESHOLD = 10
HISTOGRAM_BINS = 64  # differences 0..63 counted one by one; the last column pools 64..255
CLASSES = HISTOGRAM_BINS + 1
BLOCK_FRAMES = 512  # frames whose counts are kept as floats before storing them as integers
BACKGROUND = "background"


@dataclass(frozen=True)
class MotionSettings:
    blur_kernel: int = 5  # Gaussian kernel side in (shrunk) pixels, odd; 0 or 1: no blur
    downscale: float = 0.5  # side factor before differencing; 1: full size
    threshold: int | None = None  # grey levels; None: from the background ROI, else the default
    default_threshold: int = DEFAULT_THRESHOLD  # without a background ROI (or it never changed)
    background_percentile: float = 99.0
    background_moved_share: float = 0.05

    def __post_init__(self):
        if self.blur_kernel > 1 and self.blur_kernel % 2 == 0:
            raise ValueError(f"blur_kernel must be odd, not {self.blur_kernel}")
        if not 0 < self.downscale <= 1:
            raise ValueError(f"downscale must be in (0, 1], not {self.downscale}")
        for name in ("threshold", "default_threshold"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < HISTOGRAM_BINS:
                raise ValueError(f"{name} must be 0..{HISTOGRAM_BINS - 1} grey levels, "
                                 f"not {value}")


@dataclass(frozen=True)
class PixelBox:
    """Columns x0..x1 and rows y0..y1 (end exclusive) of a picture."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def pixels(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def cut(self, picture: np.ndarray) -> np.ndarray:
        """The box's part of a picture (a view)."""
        return picture[self.y0:self.y1, self.x0:self.x1]


def pixel_box(fractions: tuple[float, float, float, float], width: int, height: int) -> PixelBox:
    """An ROI given as fractions (x, y, w, h) of a width x height picture, as whole pixels:
    edges rounded to the nearest pixel line, at least one pixel each way, inside the picture.

    >>> pixel_box((0.25, 0.5, 0.5, 0.5), 640, 360)
    PixelBox(x0=160, y0=180, x1=480, y1=360)
    """
    x, y, w, h = fractions
    x0 = min(max(int(round(x * width)), 0), width - 1)
    y0 = min(max(int(round(y * height)), 0), height - 1)
    x1 = min(max(int(round((x + w) * width)), x0 + 1), width)
    y1 = min(max(int(round((y + h) * height)), y0 + 1), height)
    return PixelBox(x0, y0, x1, y1)


@dataclass(frozen=True)
class MotionEnergy:
    """A session's motion energy: per ROI role, one share per frame (NaN for the first)."""

    energy: dict[str, np.ndarray]
    background_moved: np.ndarray  # bool per frame; all False without a background ROI
    threshold: int
    threshold_source: str  # "setting", "background" or "default"

    def without_background_moves(self) -> dict[str, np.ndarray]:
        """The energies with frames where the background moved set to NaN (left out)."""
        return {role: np.where(self.background_moved, np.nan, values)
                for role, values in self.energy.items()}

    @property
    def background_moved_share(self) -> float:
        frames = self.background_moved[1:]
        return float(frames.mean()) if frames.size else float("nan")


class MotionEnergyAccumulator:
    """Feed decoded frames in order (`feed`), then read the session's `result()`.

    Frames are uint8 numpy arrays, grey (h x w) or BGR (h x w x 3), in the displayed
    orientation (rotation applied) and deinterlaced: ROIs are fractions of that picture.

    >>> rois = {"caregiver": (0.0, 0.0, 0.5, 1.0), "child": (0.5, 0.0, 0.5, 1.0)}
    >>> meter = MotionEnergyAccumulator(rois, MotionSettings(blur_kernel=0, downscale=1))
    >>> still = np.zeros((4, 8), np.uint8)
    >>> moved = still.copy(); moved[:, :2] = 200  # half the caregiver's pixels change
    >>> for frame in (still, moved):
    ...     meter.feed(frame)
    >>> {role: values.tolist() for role, values in meter.result().energy.items()}
    {'caregiver': [nan, 0.5], 'child': [nan, 0.0]}
    """

    def __init__(self, rois: Mapping[str, tuple[float, float, float, float]],
                 settings: MotionSettings | None = None):
        if not rois:
            raise ValueError("no ROI to measure")
        self.rois = dict(rois)
        self.settings = settings or MotionSettings()
        self._boxes: list[PixelBox] = []
        self._crop: _Crop | None = None
        self._input_shape: tuple[int, ...] | None = None
        self._previous: np.ndarray | None = None
        self._block = np.zeros((BLOCK_FRAMES, len(self.rois), CLASSES))  # latest frames' counts
        self._in_block = 0
        self._done: list[np.ndarray] = []  # earlier frames: (frames, ROIs, 65) counts

    @property
    def frames(self) -> int:
        return sum(len(counts) for counts in self._done) + self._in_block

    def feed(self, frame: np.ndarray) -> None:
        """Add the next frame of the session."""
        picture = self._prepare(frame)
        if self._in_block == BLOCK_FRAMES:
            self._done.append(self._block.astype(np.uint32))
            self._in_block = 0
        row = self._block[self._in_block]
        if self._previous is None:
            picture = self._start(frame.shape, picture)
            row[:] = 0
        else:
            difference = cv2.absdiff(picture, self._previous)
            classes = cv2.threshold(difference, HISTOGRAM_BINS, HISTOGRAM_BINS,
                                    cv2.THRESH_TRUNC)[1]  # 0..63 as they are, 64 for 64..255
            for number, box in enumerate(self._boxes):
                row[number] = class_counts(box.cut(classes))
        self._in_block += 1
        self._previous = picture

    def result(self) -> MotionEnergy:
        """Energies, background moves and the threshold used, for the frames fed so far."""
        counts = np.concatenate([*self._done, self._block[:self._in_block]]).astype(np.int64)
        histograms = {role: counts[:, number] for number, role in enumerate(self.rois)}
        threshold, source = self._threshold(histograms.get(BACKGROUND))
        energy = {role: _changed_share(rows, threshold) for role, rows in histograms.items()}
        moved = np.zeros(self.frames, dtype=bool)
        if BACKGROUND in energy:
            moved = np.nan_to_num(energy[BACKGROUND]) > self.settings.background_moved_share
        return MotionEnergy(energy=energy, background_moved=moved, threshold=threshold,
                            threshold_source=source)

    def _start(self, input_shape: tuple[int, ...], picture: np.ndarray) -> np.ndarray:
        """From the first (whole) picture: the ROIs' boxes and the crop of later frames; the
        first picture as cropped."""
        height, width = picture.shape
        boxes = [pixel_box(fractions, width, height) for fractions in self.rois.values()]
        margin = self.settings.blur_kernel // 2 if self.settings.blur_kernel > 1 else 0
        window = PixelBox(max(min(box.x0 for box in boxes) - margin, 0),
                          max(min(box.y0 for box in boxes) - margin, 0),
                          min(max(box.x1 for box in boxes) + margin, width),
                          min(max(box.y1 for box in boxes) + margin, height))
        if window != PixelBox(0, 0, width, height):
            self._crop = _Crop.of(window, input_shape[:2], self.settings.downscale)
        self._boxes = [PixelBox(box.x0 - window.x0, box.y0 - window.y0, box.x1 - window.x0,
                                box.y1 - window.y0) for box in boxes]
        return picture[window.y0:window.y1, window.x0:window.x1]

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3):
            raise ValueError(f"frames must be uint8 grey or BGR arrays, not {frame.dtype} "
                             f"with shape {frame.shape}")
        if self._input_shape is None:
            self._input_shape = frame.shape
        elif frame.shape != self._input_shape:
            raise ValueError(f"frame size changed from {self._input_shape} to {frame.shape}")
        crop = self._crop
        if crop is not None and crop.before:
            frame = crop.before.cut(frame)
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        if self.settings.downscale < 1:
            grey = cv2.resize(grey, crop.size if crop is not None and crop.before else None,
                              fx=self.settings.downscale, fy=self.settings.downscale,
                              interpolation=cv2.INTER_AREA)
        if crop is not None and crop.after:
            grey = crop.after.cut(grey)
        if self.settings.blur_kernel > 1:
            side = self.settings.blur_kernel
            grey = cv2.GaussianBlur(grey, (side, side), 0)
        return grey

    def _threshold(self, background: np.ndarray | None) -> tuple[int, str]:
        if self.settings.threshold is not None:
            return self.settings.threshold, "setting"
        default = self.settings.default_threshold, "default"
        if background is None:
            return default
        estimate = background_threshold(background[1:], self.settings.background_percentile)
        return default if estimate is None else (estimate, "background")


@dataclass(frozen=True)
class _Crop:
    """The part of each frame after the first that is measured: `window`, in shrunk pixels,
    holds every ROI and the blur margin around it. Cut `before` shrinking (input pixels,
    shrunk to `size`) when the factor is 1/k for a whole k dividing the picture's sides, so
    INTER_AREA averages the same k x k blocks; else cut `after` shrinking."""

    before: PixelBox | None
    after: PixelBox | None
    size: tuple[int, int]  # (width, height) of the window

    @classmethod
    def of(cls, window: PixelBox, input_size: tuple[int, int], downscale: float) -> _Crop:
        size = (window.x1 - window.x0, window.y1 - window.y0)
        factor = round(1 / downscale)
        if abs(factor * downscale - 1) < 1e-12 and all(side % factor == 0 for side in input_size):
            before = PixelBox(window.x0 * factor, window.y0 * factor, window.x1 * factor,
                              window.y1 * factor)
            return cls(before=before, after=None, size=size)
        return cls(before=None, after=window, size=size)


def background_threshold(histograms: np.ndarray, percentile: float = 99.0) -> int | None:
    """Median over frames of the background's `percentile`-th difference, leaving out frames
    without any change (repeated frames); None when no frame changed.

    >>> rows = np.zeros((3, HISTOGRAM_BINS + 1), int)
    >>> rows[:, 0], rows[:, 2], rows[:, 3] = 90, 9, 1  # 90% unchanged, 9% by 2, 1% by 3
    >>> background_threshold(rows)
    2
    """
    changed = histograms[:, 1:].sum(axis=1) > 0
    if not changed.any():
        return None
    rows = histograms[changed]
    cumulative = np.cumsum(rows, axis=1)
    needed = rows.sum(axis=1, keepdims=True) * percentile / 100.0
    per_frame = np.argmax(cumulative >= needed, axis=1)
    return int(min(np.percentile(per_frame, 50, method="higher"), HISTOGRAM_BINS - 1))


def class_counts(classes: np.ndarray) -> np.ndarray:
    """How many pixels of a picture of classes 0..64 (uint8) are in each class: 65 counts.

    Neighbouring pixels are counted as pairs, in a two-channel histogram of 65 x 65 classes
    whose sums both ways are the counts of the pairs' left and right pixels (an odd last
    column is counted alone): one histogram seldom adds to the same counter twice in a row.

    >>> class_counts(np.array([[0, 0, 64], [3, 0, 0]], np.uint8))[[0, 3, 64]].tolist()
    [4.0, 1.0, 1.0]
    """
    rows, columns = classes.shape
    paired = columns - columns % 2
    counts = np.zeros(CLASSES)
    if paired:
        pairs = classes[:, :paired].reshape(rows, paired // 2, 2)
        table = cv2.calcHist([pairs], [0, 1], None, [CLASSES, CLASSES], [0, CLASSES] * 2)
        counts += table.sum(axis=0, dtype=np.float64) + table.sum(axis=1, dtype=np.float64)
    if columns % 2:
        counts += cv2.calcHist([classes[:, -1:]], [0], None, [CLASSES], [0, CLASSES])[:, 0]
    return counts


def _changed_share(histograms: np.ndarray, threshold: int) -> np.ndarray:
    """Share of pixels whose difference exceeds the threshold; NaN for the first frame."""
    pixels = histograms.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = histograms[:, threshold + 1:].sum(axis=1) / pixels
    share[:1] = np.nan
    return share
