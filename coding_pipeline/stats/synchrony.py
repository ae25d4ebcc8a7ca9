"""Movement synchrony of a caregiver's and a child's motion-energy series.

Pure numpy/scipy. The method follows Motion Energy Analysis (Ramseyer, F. & Tschacher, W. (2011).
Nonverbal synchrony in psychotherapy. J Consult Clin Psychol, 79(3), 284-295) as rMEA implements
it (Kleinbub, J. R. & Ramseyer, F. T. (2021). rMEA: An R package to assess nonverbal synchronization
in motion energy analysis time-series. Psychotherapy Research, 31(6), 817-830; CRAN 1.2.2), ported
from its documentation, not its (GPL) code.

Conventions:
- A series is a 1-D float array, one value per frame at the study's common `fps`; NaN = missing
  (a frame excluded because the background moved, or not decoded).
- Lag L (in samples) > 0 means the caregiver leads: the caregiver at t is paired with the child at
  t + L. This is rMEA's s1 = caregiver, s2 = child ("high synchrony at positive lags implies that
  s2 follows s1").
- Windows (rMEA's `MEAccf`): window k covers the span [k*step, k*step + window + max_lag). For
  L >= 0 the caregiver's first `window` samples of the span are paired with the child's samples
  L .. L + window; for L < 0 the child's first `window` samples with the caregiver's
  |L| .. |L| + window.
  A session of n samples has floor((n - window - max_lag) / step) + 1 windows.
- Pearson's r at each window and lag uses the complete pairs only; a window where more than half
  of either person's span is missing gives NaN at every lag (rMEA's rule), and so does a lag with
  fewer than 3 complete pairs or a series without variation in them.
- Fisher's z = artanh(r), capped at +-10 as rMEA does (|r| = 1 gives 10, not infinity).

The pseudo-synchrony (between-dyad surrogates) lives in `coding_pipeline.stats.pseudo_synchrony`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as scipy_fft

FISHER_Z_CAP = 10.0  # rMEA's fisher.r2z bound
MIN_PAIRS = 3  # complete pairs a correlation needs
_NO_VARIATION = 1e-10  # a sum of squares below this share of the span's mean square counts as 0


@dataclass(frozen=True)
class SynchronySettings:
    """Seconds-based settings; defaults suit 5-15 minute play sessions."""

    window_s: float = 30.0
    step_s: float = 15.0
    max_lag_s: float = 5.0
    smooth_s: float = 0.5  # centred moving average (rMEA's MEAsmooth default)
    outlier_sd: float = 10.0  # values above this many SDs are capped (rMEA's MEAoutlier default)

    def samples(self, fps: float) -> tuple[int, int, int]:
        """(window, step, max_lag) in samples at `fps`, each rounded to the nearest sample."""
        window, step, lag = (int(np.floor(s * fps + 0.5))
                             for s in (self.window_s, self.step_s, self.max_lag_s))
        if window < MIN_PAIRS or step < 1 or lag < 0:
            raise ValueError(f"synchrony settings {self} give too few samples at {fps} fps")
        return window, step, lag


DEFAULT_SETTINGS = SynchronySettings()


@dataclass(frozen=True)
class LaggedCorrelation:
    """Windowed lagged cross-correlation of one caregiver-child pair."""

    r: np.ndarray  # windows x lags, NaN where undefined
    lags_s: np.ndarray  # lag of each column in seconds, -max_lag .. +max_lag (> 0: caregiver leads)
    window_start_s: np.ndarray  # start of each window's span in seconds

    @property
    def z(self) -> np.ndarray:
        return fisher_z(self.r)


# --- preprocessing (rMEA's MEAsmooth, MEAoutlier, MEAscale) ---------------------------------


def moving_average(series: np.ndarray, fps: float, window_s: float = 0.5) -> np.ndarray:
    """Centred moving average over round(window_s * fps) samples, made odd so it is centred.

        smooth[t] = mean(x[t-h .. t+h] that are present),  h = (n - 1) / 2

    Missing values stay missing and are left out of their neighbours' means; at the ends the
    window shrinks (rMEA's `sasFiltB` divides by n there instead).

    >>> moving_average(np.array([0, 0, 3.0, 0, 0]), fps=3, window_s=1).tolist()
    [0.0, 1.0, 1.0, 1.0, 0.0]
    """
    values = np.asarray(series, dtype=float)
    size = max(1, int(np.floor(window_s * fps + 0.5)))
    half = size // 2
    present = ~np.isnan(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(present, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(present)])
    index = np.arange(values.size)
    low = np.clip(index - half, 0, values.size)
    high = np.clip(index + half + 1, 0, values.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = (sums[high] - sums[low]) / (counts[high] - counts[low])
    smooth[~present] = np.nan
    return smooth


def cap_outliers(series: np.ndarray, sd_limit: float = 10.0) -> np.ndarray:
    """Values above sd_limit * SD(series) set to that bound (rMEA's MEAoutlier threshold
    `sd(x) * 10`, applied per person; rMEA pools the dyad and replaces with NA by default).

    >>> x = np.r_[np.zeros(199), 1.0]
    >>> round(float(cap_outliers(x).max()), 4)  # 10 * SD = 10 * 0.070711
    0.7071
    """
    values = np.asarray(series, dtype=float)
    limit = sd_limit * _sd(values)
    if not np.isfinite(limit):
        return values.copy()
    return np.where(values > limit, limit, values)


def scale_by_sd(series: np.ndarray) -> np.ndarray:
    """x / SD(x), not centred (rMEA's MEAscale default); a series without variation is kept.

    >>> scale_by_sd(np.array([0.0, 2.0, 4.0])).tolist()
    [0.0, 1.0, 2.0]
    """
    values = np.asarray(series, dtype=float)
    sd = _sd(values)
    return values / sd if np.isfinite(sd) and sd > 0 else values.copy()


def preprocess(series: np.ndarray, fps: float, settings: SynchronySettings) -> np.ndarray:
    """Smooth, cap outliers, scale by the SD: the order rMEA's examples use."""
    smooth = moving_average(series, fps, settings.smooth_s)
    return scale_by_sd(cap_outliers(smooth, settings.outlier_sd))


def _sd(values: np.ndarray) -> float:
    present = values[~np.isnan(values)]
    return float(np.std(present, ddof=1)) if present.size > 1 else float("nan")


# --- windowed lagged cross-correlation -------------------------------------------------------


def fisher_z(r: np.ndarray) -> np.ndarray:
    """z = artanh(r) = 0.5 ln((1 + r) / (1 - r)), capped at +-10 (rMEA's `fisher.r2z`).

    >>> fisher_z(np.array([0.0, 0.5, 1.0])).round(4).tolist()
    [0.0, 0.5493, 10.0]
    """
    with np.errstate(divide="ignore"):
        return np.clip(np.arctanh(np.asarray(r, dtype=float)), -FISHER_Z_CAP, FISHER_Z_CAP)


def window_count(n_samples: int, window: int, step: int, max_lag: int) -> int:
    """Windows of window + max_lag samples, step apart, that fit in n_samples (rMEA's n_win)."""
    span = window + max_lag
    return 0 if n_samples < span else (n_samples - span) // step + 1


def lagged_correlation(caregiver: np.ndarray, child: np.ndarray, fps: float,
                       settings: SynchronySettings = DEFAULT_SETTINGS) -> LaggedCorrelation:
    """Pearson's r per window and lag (module docstring: windows, lag sign, missing data), the
    pair truncated to the shorter series.

        r(k, L) = corr(caregiver[s + a .. s + a + window), child[s + b .. s + b + window)),
        s = k * step,  a = max(0, -L),  b = max(0, L)

    >>> t = np.arange(3000) / 30
    >>> caregiver = np.sin(t) + np.sin(2.7 * t)
    >>> child = np.r_[np.zeros(15), caregiver[:-15]]  # the caregiver's motion 0.5 s later
    >>> ccf = lagged_correlation(caregiver, child, 30, SynchronySettings(30, 15, 1))
    >>> float(ccf.lags_s[np.nanargmax(ccf.r[0])])
    0.5
    """
    window, step, max_lag = settings.samples(fps)
    r = correlate_one_to_many(caregiver, [child], window, step, max_lag)[0]
    return LaggedCorrelation(r=r, lags_s=np.arange(-max_lag, max_lag + 1) / fps,
                             window_start_s=np.arange(r.shape[0]) * step / fps)


def correlate_one_to_many(caregiver: np.ndarray, children: list[np.ndarray], window: int,
                          step: int, max_lag: int) -> list[np.ndarray]:
    """r (windows x 2 max_lag + 1 lags) of one caregiver with each child, sizes in samples.

    Vectorised over children, windows and lags: the six sums of Pearson's r over complete pairs
    (n, Sx, Sxx, Sy, Syy, Sxy at every lag) are cross-correlations of the masked, window-centred
    series, computed with real FFTs.
    """
    caregiver = np.asarray(caregiver, dtype=float)
    n_windows = window_count(caregiver.size, window, step, max_lag)
    lengths = [min(caregiver.size, np.asarray(c).size) for c in children]
    if n_windows == 0 or not children:
        return [np.full((window_count(n, window, step, max_lag), 2 * max_lag + 1), np.nan)
                for n in lengths]
    span = window + max_lag
    fft_len = scipy_fft.next_fast_len(span, real=True)
    padded = np.full((len(children), caregiver.size), np.nan)
    for row, (child, length) in enumerate(zip(children, lengths, strict=True)):
        padded[row, :length] = np.asarray(child, dtype=float)[:length]
    giver = _SpanSpectra(_spans(caregiver, span, step, n_windows), window, fft_len)
    taker = _SpanSpectra(_spans(padded, span, step, n_windows), window, fft_len)
    giver_leads = _pearson(_lagged_sums(giver.head, taker.whole, max_lag + 1, fft_len),
                           giver.mean_square, taker.mean_square)
    taker_leads = _pearson(_lagged_sums(taker.head, giver.whole, max_lag + 1, fft_len),
                           taker.mean_square, giver.mean_square)
    r = np.concatenate([taker_leads[..., :0:-1], giver_leads], axis=-1)
    r[giver.too_sparse | taker.too_sparse] = np.nan
    return [r[row, :window_count(length, window, step, max_lag)]
            for row, length in enumerate(lengths)]


def _spans(series: np.ndarray, span: int, step: int, n_windows: int) -> np.ndarray:
    return sliding_window_view(series, span, axis=-1)[..., ::step, :][..., :n_windows, :]


class _SpanSpectra:
    """Spectra of (present, x, x^2) over each window's first `window` samples (head) and its whole
    span, x being the span centred on its own mean (which keeps the sums' rounding small)."""

    def __init__(self, spans: np.ndarray, window: int, fft_len: int):
        present = ~np.isnan(spans)
        counts = present.sum(axis=-1)
        raw = np.where(present, spans, 0.0)
        safe_counts = np.maximum(counts, 1)[..., None]
        values = np.where(present, raw - raw.sum(axis=-1, keepdims=True) / safe_counts, 0.0)
        parts = np.stack([present.astype(float), values, values * values], axis=-2)
        self.head = scipy_fft.rfft(parts[..., :window], n=fft_len, axis=-1)
        self.whole = scipy_fft.rfft(parts, n=fft_len, axis=-1)
        self.mean_square = ((raw * raw).sum(axis=-1, keepdims=True) / safe_counts)
        self.too_sparse = 2 * counts < spans.shape[-1]  # more than half missing


def _lagged_sums(head: np.ndarray, whole: np.ndarray, n_lags: int, fft_len: int) -> np.ndarray:
    """sum_t a[t] b[t + L] for L = 0 .. n_lags - 1 of the six pairs (head a, whole b):
    n = (1a, 1b), Sa = (a, 1b), Saa = (a^2, 1b), Sb = (1a, b), Sbb = (1a, b^2), Sab = (a, b)."""
    shape = np.broadcast_shapes(head.shape, whole.shape)
    products = np.empty(shape[:-2] + (6, shape[-1]), dtype=complex)
    a_one, a_val, a_sq = (np.conj(head[..., part, :]) for part in range(3))
    b_one, b_val, b_sq = (whole[..., part, :] for part in range(3))
    for row, (a, b) in enumerate([(a_one, b_one), (a_val, b_one), (a_sq, b_one),
                                  (a_one, b_val), (a_one, b_sq), (a_val, b_val)]):
        np.multiply(a, b, out=products[..., row, :])
    return scipy_fft.irfft(products, n=fft_len, axis=-1)[..., :n_lags]


def _pearson(sums: np.ndarray, mean_square_a: np.ndarray, mean_square_b: np.ndarray) -> np.ndarray:
    """r = (Sab - Sa Sb / n) / sqrt((Saa - Sa^2 / n)(Sbb - Sb^2 / n)) from _lagged_sums' output."""
    n = np.rint(sums[..., 0, :])
    sa, saa, sb, sbb, sab = (sums[..., i, :] for i in range(1, 6))
    with np.errstate(invalid="ignore", divide="ignore"):
        ssa = saa - sa * sa / n
        ssb = sbb - sb * sb / n
        r = (sab - sa * sb / n) / np.sqrt(ssa * ssb)
    undefined = ((n < MIN_PAIRS) | (ssa <= _NO_VARIATION * n * mean_square_a)
                 | (ssb <= _NO_VARIATION * n * mean_square_b))
    r[undefined] = np.nan
    return np.clip(r, -1.0, 1.0)


# --- per-session statistics over the windows x lags matrix of Fisher z -----------------------


def sync_lag0(z: np.ndarray) -> float:
    """Mean Fisher z at lag 0 over the windows that have one (rMEA's `lag_zero`, averaged).

        sync_lag0 = mean_k z(k, 0)

    >>> sync_lag0(np.array([[0.1, 0.5, 0.2], [0.0, 0.25, np.nan]]))
    0.375
    """
    z = np.asarray(z, dtype=float)
    return _nanmean(z[:, z.shape[1] // 2])


def window_peaks(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each window's peak |z| and the column it is at (the first on a tie, as rMEA's
    `which.max`); NaN and -1 for a window without any z."""
    magnitude = np.abs(np.asarray(z, dtype=float))
    empty = np.isnan(magnitude).all(axis=1)
    column = np.argmax(np.where(np.isnan(magnitude), -np.inf, magnitude), axis=1)
    peak = np.take_along_axis(magnitude, column[:, None], axis=1)[:, 0]
    return np.where(empty, np.nan, peak), np.where(empty, -1, column)


def sync_peak(z: np.ndarray) -> float:
    """Mean over windows of the window's peak |z| across lags (rMEA with ABS = TRUE).

        sync_peak = mean_k max_L |z(k, L)|

    >>> sync_peak(np.array([[0.1, -0.5, 0.2], [0.25, 0.2, np.nan]]))
    0.375
    """
    return _nanmean(window_peaks(z)[0])


def peak_lag_s(z: np.ndarray, lags_s: np.ndarray) -> float:
    """Median over windows of the lag (seconds) at each window's peak |z|; > 0: caregiver leads.

    >>> peak_lag_s(np.array([[0.1, 0.2, 0.9], [0.1, 0.3, 0.8], [0.7, 0.1, 0.0]]),
    ...            np.array([-0.5, 0.0, 0.5]))
    0.5
    """
    _, column = window_peaks(z)
    lags = np.asarray(lags_s, dtype=float)[column[column >= 0]]
    return float(np.median(lags)) if lags.size else float("nan")


def caregiver_leads_share(z: np.ndarray, lags_s: np.ndarray) -> float:
    """Share of windows whose peak |z| is at a positive lag (the caregiver leads) among the
    windows whose peak is not at lag 0; 0.5 = neither leads more often.

        caregiver_leads_share = #{k: L*(k) > 0} / #{k: L*(k) != 0}

    >>> caregiver_leads_share(np.array([[0.1, 0.2, 0.9], [0.1, 0.3, 0.8], [0.7, 0.1, 0.0],
    ...                                 [0.1, 0.9, 0.1]]), np.array([-0.5, 0.0, 0.5]))
    0.6666666666666666
    """
    _, column = window_peaks(z)
    lags = np.asarray(lags_s, dtype=float)[column[column >= 0]]
    leading = lags[lags != 0]
    return float(np.mean(leading > 0)) if leading.size else float("nan")


def _nanmean(values: np.ndarray) -> float:
    present = values[~np.isnan(values)]
    return float(present.mean()) if present.size else float("nan")
