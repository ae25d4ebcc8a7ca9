"""Exact and within-one-point agreement over coder pairs.

For every unit (clip) rated by two or more coders, every pair of its ratings counts once:
    exact      = #pairs with x_i == x_j          / #pairs
    within-one = #pairs with |x_i - x_j| <= 1    / #pairs
(the percent-agreement figures global-rating schemes report, e.g. 85-90% within one point).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from coding_pipeline.stats import UndefinedStatistic

TOLERANCE = 1e-9  # composites are means: 3.25 vs 4.25 differ by one point exactly


@dataclass(frozen=True)
class Agreement:
    exact: float
    within_one: float
    n_pairs: int


def paired_ratings(unit_ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of ratings given to the same unit, as two equally long arrays."""
    data = np.asarray(unit_ratings, dtype=float)
    firsts, seconds = [], []
    for left, right in combinations(range(data.shape[1]), 2):
        both = ~np.isnan(data[:, left]) & ~np.isnan(data[:, right])
        firsts.append(data[both, left])
        seconds.append(data[both, right])
    if not firsts:
        return np.empty(0), np.empty(0)
    return np.concatenate(firsts), np.concatenate(seconds)


def agreement(first: np.ndarray, second: np.ndarray) -> Agreement:
    """Exact and within-one agreement of paired ratings."""
    difference = np.abs(np.asarray(first, dtype=float) - np.asarray(second, dtype=float))
    if difference.size == 0:
        raise UndefinedStatistic("no clip was rated by two or more coders")
    return Agreement(
        exact=float((difference <= TOLERANCE).mean()),
        within_one=float((difference <= 1 + TOLERANCE).mean()),
        n_pairs=int(difference.size),
    )


def pairwise_agreement(unit_ratings: np.ndarray) -> Agreement:
    """Exact and within-one agreement over all coder pairs of a units x coders array."""
    return agreement(*paired_ratings(unit_ratings))
