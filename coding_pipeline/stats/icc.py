"""Intraclass correlations with F-based confidence intervals.

Sources:
- McGraw, K. O. & Wong, S. P. (1996). Forming inferences about some intraclass correlation
  coefficients. Psychological Methods, 1(1), 30-46 (ICC(A,1), Table 7 interval).
- Shrout, P. E. & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater
  reliability. Psychological Bulletin, 86(2), 420-428 (forms ICC(1,1) ... ICC(3,k)).

Two-way ANOVA of n targets (clips) x k raters, complete data:
    MSR (rows/targets), MSC (columns/raters), MSE (residual), MSW (within targets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.generalizability import harmonic_mean


@dataclass(frozen=True)
class IccResult:
    form: str  # "ICC(A,1)" or "ICC(1)"
    value: float
    ci: tuple[float, float]
    n_targets: int
    n_raters: float  # raters per target (k; for unbalanced one-way data the k0 of the formula)


@dataclass(frozen=True)
class TwoWayMeanSquares:
    msr: float  # between targets, df n - 1
    msc: float  # between raters, df k - 1
    mse: float  # residual, df (n - 1)(k - 1)
    msw: float  # within targets, df n(k - 1)
    n: int
    k: int


def two_way_mean_squares(matrix: np.ndarray) -> TwoWayMeanSquares:
    """Mean squares of a complete targets x raters matrix (no NaN)."""
    data = np.asarray(matrix, dtype=float)
    if data.ndim != 2 or np.isnan(data).any():
        raise ValueError("two-way ICC needs a complete targets x raters matrix")
    n, k = data.shape
    if n < 2:
        raise UndefinedStatistic("fewer than two clips rated by the same coders")
    if k < 2:
        raise UndefinedStatistic("fewer than two coders")
    grand = data.mean()
    ss_rows = k * ((data.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((data.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((data - grand) ** 2).sum()
    ss_error = ss_total - ss_rows - ss_cols
    return TwoWayMeanSquares(
        msr=ss_rows / (n - 1),
        msc=ss_cols / (k - 1),
        mse=ss_error / ((n - 1) * (k - 1)),
        msw=(ss_total - ss_rows) / (n * (k - 1)),
        n=n,
        k=k,
    )


def _no_variance_check(denominator: float) -> None:
    if not denominator > 0:
        raise UndefinedStatistic("no variance between clips or coders (all ratings alike)")


def icc_a1(matrix: np.ndarray, confidence: float = 0.95) -> IccResult:
    """ICC(A,1): two-way random effects, absolute agreement, single rater (= Shrout & Fleiss
    ICC(2,1)), with McGraw & Wong's (1996, Table 7) interval.

        rho = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)
        a = k rho / (n (1 - rho)),  b = 1 + k rho (n - 1) / (n (1 - rho))
        v = (a MSC + b MSE)^2 / ((a MSC)^2 / (k-1) + (b MSE)^2 / ((n-1)(k-1)))
        lower = n (MSR - F1 MSE) / (F1 (k MSC + (kn - k - n) MSE) + n MSR),  F1 = F(1-a/2; n-1, v)
        upper = n (F2 MSR - MSE) / (k MSC + (kn - k - n) MSE + n F2 MSR),   F2 = F(1-a/2; v, n-1)

    Undefined when all ratings are alike, or when MSR = MSE = 0 (clips do not differ).
    """
    ms = two_way_mean_squares(matrix)
    n, k = ms.n, ms.k
    denominator = ms.msr + (k - 1) * ms.mse + k * (ms.msc - ms.mse) / n
    _no_variance_check(denominator)
    if np.isclose(ms.msr, 0, atol=1e-12) and np.isclose(ms.mse, 0, atol=1e-12):
        raise UndefinedStatistic(
            "the clips do not differ: each coder gave every clip the same rating (ICC would "
            "be 0 by construction, its interval 0/0)"
        )
    rho = (ms.msr - ms.mse) / denominator
    if rho >= 1.0:
        return IccResult("ICC(A,1)", 1.0, (1.0, 1.0), n, k)
    a = k * rho / (n * (1 - rho))
    b = 1 + k * rho * (n - 1) / (n * (1 - rho))
    v_denominator = (a * ms.msc) ** 2 / (k - 1) + (b * ms.mse) ** 2 / ((n - 1) * (k - 1))
    v = (a * ms.msc + b * ms.mse) ** 2 / v_denominator if v_denominator > 0 else np.inf
    tail = 1 - (1 - confidence) / 2
    f_low = scipy_stats.f.ppf(tail, n - 1, v)
    f_high = scipy_stats.f.ppf(tail, v, n - 1)
    spread = k * ms.msc + (k * n - k - n) * ms.mse
    lower = n * (ms.msr - f_low * ms.mse) / (f_low * spread + n * ms.msr)
    upper = n * (f_high * ms.msr - ms.mse) / (spread + n * f_high * ms.msr)
    return IccResult("ICC(A,1)", float(rho), (float(lower), float(upper)), n, k)


def icc_oneway(unit_ratings: np.ndarray, confidence: float = 0.95) -> IccResult:
    """One-way random ICC(1) (Shrout & Fleiss case 1) for targets rated by differing raters.

    Targets with at least two ratings are used; they may have different numbers of ratings,
    in which case k is replaced by k0 = (N - sum n_i^2 / N) / (n - 1) (N ratings, n targets):
        ICC(1) = (MSB - MSW) / (MSB + (k0 - 1) MSW)
    Interval with F0 = MSB / MSW: FL = F0 / F(1-a/2; n-1, N-n), FU = F0 F(1-a/2; N-n, n-1),
        [(FL - 1) / (FL + k0 - 1), (FU - 1) / (FU + k0 - 1)].
    """
    data = np.asarray(unit_ratings, dtype=float)
    data = data[(~np.isnan(data)).sum(axis=1) >= 2]
    n = data.shape[0]
    if n < 2:
        raise UndefinedStatistic("fewer than two clips rated by two or more coders")
    present = ~np.isnan(data)
    sizes = present.sum(axis=1).astype(float)
    total = sizes.sum()
    means = np.where(present, data, 0.0).sum(axis=1) / sizes
    grand = (sizes * means).sum() / total
    msb = (sizes * (means - grand) ** 2).sum() / (n - 1)
    msw = np.where(present, (data - means[:, None]) ** 2, 0.0).sum() / (total - n)
    k0 = (total - (sizes**2).sum() / total) / (n - 1)
    denominator = msb + (k0 - 1) * msw
    _no_variance_check(denominator)
    value = (msb - msw) / denominator
    if msw == 0:
        return IccResult("ICC(1)", 1.0, (1.0, 1.0), n, float(k0))
    tail = 1 - (1 - confidence) / 2
    f0 = msb / msw
    f_low = f0 / scipy_stats.f.ppf(tail, n - 1, total - n)
    f_high = f0 * scipy_stats.f.ppf(tail, total - n, n - 1)
    ci = ((f_low - 1) / (f_low + k0 - 1), (f_high - 1) / (f_high + k0 - 1))
    return IccResult("ICC(1)", float(value), (float(ci[0]), float(ci[1])), n, float(k0))


def shrout_fleiss_forms(matrix: np.ndarray) -> dict[str, float]:
    """The six Shrout & Fleiss (1979) point estimates of a complete targets x judges matrix:

        ICC(1,1) = (BMS - WMS) / (BMS + (k-1) WMS)        ICC(1,k) = (BMS - WMS) / BMS
        ICC(2,1) = (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n)
        ICC(2,k) = (BMS - EMS) / (BMS + (JMS - EMS) / n)
        ICC(3,1) = (BMS - EMS) / (BMS + (k-1) EMS)        ICC(3,k) = (BMS - EMS) / BMS
    (BMS = MSR, JMS = MSC, EMS = MSE, WMS = MSW.)
    """
    ms = two_way_mean_squares(matrix)
    n, k = ms.n, ms.k
    bms, jms, ems, wms = ms.msr, ms.msc, ms.mse, ms.msw
    _no_variance_check(bms)
    return {
        "ICC(1,1)": (bms - wms) / (bms + (k - 1) * wms),
        "ICC(2,1)": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
        "ICC(3,1)": (bms - ems) / (bms + (k - 1) * ems),
        "ICC(1,k)": (bms - wms) / bms,
        "ICC(2,k)": (bms - ems) / (bms + (jms - ems) / n),
        "ICC(3,k)": (bms - ems) / bms,
    }


def spearman_brown(single: float, k: float) -> float:
    """The reliability of a mean over k raters from a single-rater ICC."""
    return k * single / (1 + (k - 1) * single)


def averaged_raters(unit_ratings: np.ndarray) -> float:
    """k of the average-measures forms ICC(A,k) and ICC(C,k) when units were rated by unequal
    numbers of raters: the harmonic mean of the raters per rated unit,

        k = m / sum_i (1 / k_i)      over the m units with k_i >= 1 ratings

    (the k-hat of ten Hove, Jorgensen & van der Ark 2022 for incomplete designs; Brennan 2001
    for the harmonic mean in unbalanced designs). `unit_ratings`: units x raters, NaN = not
    rated. No rated unit raises UndefinedStatistic.

    >>> averaged_raters(np.array([[3, 4, np.nan], [2, np.nan, np.nan], [5, 5, 4]]))
    1.6363636363636365
    >>> averaged_raters(np.array([[3, 4], [2, 2]]))
    2.0
    """
    counts = (~np.isnan(np.asarray(unit_ratings, dtype=float))).sum(axis=1)
    counts = counts[counts > 0]
    if counts.size == 0:
        raise UndefinedStatistic("no rated unit")
    return harmonic_mean(counts)


def icc_c1_interval(matrix: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """McGraw & Wong's (1996, Table 7, case 3/2C) F interval of ICC(C,1) on complete data:
    F0 = MSR / MSE, FL = F0 / F(1-a/2; n-1, (n-1)(k-1)), FU = F0 F(1-a/2; (n-1)(k-1), n-1),
    [(FL - 1) / (FL + k - 1), (FU - 1) / (FU + k - 1)]."""
    ms = two_way_mean_squares(matrix)
    n, k = ms.n, ms.k
    if ms.mse == 0:
        return 1.0, 1.0
    tail = 1 - (1 - confidence) / 2
    f0 = ms.msr / ms.mse
    f_low = f0 / scipy_stats.f.ppf(tail, n - 1, (n - 1) * (k - 1))
    f_high = f0 * scipy_stats.f.ppf(tail, (n - 1) * (k - 1), n - 1)
    return (float((f_low - 1) / (f_low + k - 1)), float((f_high - 1) / (f_high + k - 1)))


def variance_icc_forms(components: dict[str, float | np.ndarray], k: float) -> dict:
    """ICC(A,1), ICC(C,1), ICC(A,k), ICC(C,k) from the two-way components clip, coder and
    residual (ten Hove, Jorgensen & van der Ark 2022): works on draws (arrays) too.

        ICC(A,1) = clip / (clip + coder + residual)      ICC(C,1) = clip / (clip + residual)
        ICC(A,k) = clip / (clip + (coder + residual) / k) ICC(C,k) = clip / (clip + residual / k)
    """
    clip, coder, residual = (components[name] for name in ("clip", "coder", "residual"))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "ICC(A,1)": clip / (clip + coder + residual),
            "ICC(C,1)": clip / (clip + residual),
            "ICC(A,k)": clip / (clip + (coder + residual) / k),
            "ICC(C,k)": clip / (clip + residual / k),
        }
