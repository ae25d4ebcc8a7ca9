"""Quadratic-weighted Cohen's kappa for two coders on an ordinal scale.

Source: Cohen, J. (1968). Weighted kappa. Psychological Bulletin, 70(4), 213-220.
With p_ij the observed proportion of units coded i by the first coder and j by the second,
e_ij = p_i. p_.j the proportion expected by chance and disagreement weights w_ij = (i - j)^2:

    kappa_w = 1 - sum_ij w_ij p_ij / sum_ij w_ij e_ij

Undefined (UndefinedStatistic) without paired ratings, and when either coder gave one value
throughout: then p_ij = e_ij and kappa_w is 0 by construction, whatever the other coder did.
"""

from __future__ import annotations

import numpy as np

from coding_pipeline.stats import UndefinedStatistic


def quadratic_kappa(
    first: np.ndarray, second: np.ndarray, categories: np.ndarray,
    names: tuple[str, str] = ("the first coder", "the second coder"),
) -> float:
    """Quadratic-weighted kappa of two coders' paired ratings over the given categories;
    `names` name the coders in the reason when it is undefined."""
    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    categories = np.unique(np.asarray(categories, dtype=float))
    if first.size == 0:
        raise UndefinedStatistic("the two coders rated no clip in common")
    if not (np.isin(first, categories).all() and np.isin(second, categories).all()):
        raise ValueError("ratings outside the categories")
    size = categories.size
    observed = np.zeros((size, size))
    np.add.at(observed, (np.searchsorted(categories, first), np.searchsorted(categories, second)),
              1.0)
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    weights = (categories[:, None] - categories[None, :]) ** 2
    chance = (weights * expected).sum()
    if chance == 0:
        raise UndefinedStatistic("both coders gave one and the same value throughout")
    for name, ratings in zip(names, (first, second), strict=True):
        if np.unique(ratings).size == 1:
            raise UndefinedStatistic(
                f"{name} gave one value throughout ({ratings[0]:g}): kappa is 0 by "
                "construction, not a measure of agreement"
            )
    return float(1.0 - (weights * observed).sum() / chance)
