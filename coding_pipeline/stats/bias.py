"""Coder bias: how far each coder's ratings sit from the other coders' on the same units."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class CoderBias:
    coder: int  # the column of the units x coders array
    mean_difference: float
    ci: tuple[float, float] | None  # None with one shared unit
    n_units: int


def coder_bias(unit_ratings: np.ndarray, confidence: float = 0.95) -> list[CoderBias]:
    """Each coder's mean difference from the mean of the other coders' ratings of the same
    unit, over the units the coder shares with at least one other coder, with a t interval.

    For coder j and a unit i rated by m_i >= 2 coders, d_ij = x_ij - (sum_l x_il - x_ij) /
    (m_i - 1); over the n_j units j shares:

        bias_j = mean(d_j),   CI = bias_j +/- t(1 - a/2; n_j - 1) sd(d_j) / sqrt(n_j)

    Source: Bland, J. M. & Altman, D. G. (1986). Statistical methods for assessing agreement
    between two methods of clinical measurement. The Lancet, 327(8476), 307-310 (the mean
    difference, bias, and its t interval), each coder taken against the others' mean.
    Coders who share no unit are left out; `unit_ratings` is units x coders, NaN = not rated.

    >>> ratings = np.array([[3, 2, 2], [4, 3, np.nan], [5, 4, 4], [2, 2, np.nan]])
    >>> for found in coder_bias(ratings):
    ...     print(found.coder, round(found.mean_difference, 3), found.n_units)
    0 0.75 4
    1 -0.5 4
    2 -0.5 2
    >>> [round(bound, 3) for bound in coder_bias(ratings)[0].ci]
    [-0.046, 1.546]
    """
    data = np.asarray(unit_ratings, dtype=float)
    present = ~np.isnan(data)
    totals = np.where(present, data, 0.0).sum(axis=1)
    counts = present.sum(axis=1)
    found = []
    for column in range(data.shape[1]):
        shared = present[:, column] & (counts >= 2)
        n = int(shared.sum())
        if n == 0:
            continue
        own = data[shared, column]
        difference = own - (totals[shared] - own) / (counts[shared] - 1)
        mean = float(difference.mean())
        ci = None
        if n >= 2:
            half = scipy_stats.t.ppf(1 - (1 - confidence) / 2, n - 1) * difference.std(
                ddof=1) / np.sqrt(n)
            ci = (float(mean - half), float(mean + half))
        found.append(CoderBias(column, mean, ci, n))
    return found
