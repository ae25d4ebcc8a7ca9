"""Gwet's AC2 and weighted Cohen's kappa with standard errors (Gwet 2014).

Source: Gwet, K. L. (2014). Handbook of Inter-Rater Reliability (4th ed.), chapters 2-5; the
same formulas as the irrCAC package (R and Python 0.4.4, `CAC(...).gwet()` and `.conger()`).
Units x coders ratings, NaN = not rated; categories c_1 < ... < c_q; agreement weights w_kl
(quadratic 1 - ((c_k - c_l) / (c_q - c_1))^2, linear 1 - |c_k - c_l| / (c_q - c_1),
ordinal 1 - M_kl / max M with M_kl = (|k - l| + 1) |k - l| / 2 on the ranks k, l).

With r_ik the coders putting unit i in category k, r_i = sum_k r_ik, r*_ik = sum_l w_kl r_il,
n units rated at least once and n2 units rated at least twice:
    p_a  = (1 / n2) sum_{i: r_i >= 2} sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1))
    pi_k = (1 / n) sum_i r_ik / r_i          (units rated once count here, as Gwet defines)
    p_e  = sum_kl w_kl / (q (q - 1)) * sum_k pi_k (1 - pi_k)
    AC2  = (p_a - p_e) / (1 - p_e)
Its variance is the linearisation over units (Gwet 2014, section 5.3) with no finite-population
correction; the interval is AC2 +/- t(n - 1) se, capped at 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from coding_pipeline.stats import UndefinedStatistic

WEIGHTS = ("quadratic", "linear", "ordinal")


@dataclass(frozen=True)
class Coefficient:
    value: float
    se: float
    ci: tuple[float, float]
    n_units: int


def agreement_weights(categories: np.ndarray, kind: str) -> np.ndarray:
    """The q x q agreement weights w_kl (1 on the diagonal)."""
    values = np.asarray(categories, dtype=float)
    span = values.max() - values.min()
    difference = values[:, None] - values[None, :]
    if kind == "quadratic":
        return 1.0 - (difference / span) ** 2
    if kind == "linear":
        return 1.0 - np.abs(difference) / span
    if kind == "ordinal":
        ranks = np.arange(values.size)
        steps = np.abs(ranks[:, None] - ranks[None, :])
        distance = (steps + 1) * steps / 2.0
        return 1.0 - distance / distance.max()
    raise ValueError(f"weights must be one of {', '.join(WEIGHTS)}, not {kind!r}")


def _counts(unit_ratings: np.ndarray, categories: np.ndarray) -> np.ndarray:
    data = np.asarray(unit_ratings, dtype=float)
    data = data[(~np.isnan(data)).any(axis=1)]
    counts = np.zeros((data.shape[0], categories.size))
    for k, category in enumerate(categories):
        counts[:, k] = (data == category).sum(axis=1)
    return counts


def _interval(value: float, se: float, n: int, confidence: float) -> tuple[float, float]:
    half = stats.t.ppf(1 - (1 - confidence) / 2, n - 1) * se
    return float(value - half), float(min(1.0, value + half))


def gwet_ac2(unit_ratings: np.ndarray, categories: np.ndarray, weights: str = "quadratic",
             confidence: float = 0.95) -> Coefficient:
    """Gwet's AC2 (AC1 with identity weights) of a units x coders array over `categories`."""
    categories = np.unique(np.asarray(categories, dtype=float))
    w = agreement_weights(categories, weights)
    counts = _counts(unit_ratings, categories)
    n, q = counts.shape
    raters = counts.sum(axis=1)
    twice = raters >= 2
    n2 = int(twice.sum())
    if n2 < 2:
        raise UndefinedStatistic("fewer than two clips rated by two or more coders")
    weighted = counts @ w.T
    agreeing = (counts * (weighted - 1)).sum(axis=1)
    pairs = raters * (raters - 1)
    pa_units = np.where(twice, agreeing / np.where(twice, pairs, 1), 0.0)
    pa = pa_units[twice].mean()
    pi = (counts / raters[:, None]).mean(axis=0)
    scale = w.sum() / (q * (q - 1))
    pe = scale * (pi * (1 - pi)).sum()
    if pe >= 1:
        raise UndefinedStatistic("chance agreement is 1: AC2 is undefined")
    value = (pa - pe) / (1 - pe)
    unit_terms = (n / n2) * (pa_units - pe * twice) / (1 - pe)
    pe_units = scale * (counts @ (1 - pi)) / raters
    linearised = unit_terms - 2 * (1 - value) * (pe_units - pe) / (1 - pe)
    se = float(np.sqrt(((linearised - value) ** 2).sum() / (n * (n - 1))))
    return Coefficient(float(value), se, _interval(value, se, n, confidence), n)


def weighted_kappa(first: np.ndarray, second: np.ndarray, categories: np.ndarray,
                   weights: str = "quadratic", confidence: float = 0.95,
                   names: tuple[str, str] = ("the first coder", "the second coder"),
                   ) -> Coefficient:
    """Cohen's weighted kappa of two coders' paired ratings, with Gwet's (2014) linearised
    standard error (irrCAC's Conger kappa for two coders) and a t interval.

        kappa = (p_a - p_e) / (1 - p_e),  p_a = sum w_kl p_kl,  p_e = sum w_kl p_k+ p_+l
    Undefined without two pairs, or when a coder gave one value throughout (kappa is then 0
    by construction)."""
    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    categories = np.unique(np.asarray(categories, dtype=float))
    n = first.size
    if n < 2:
        raise UndefinedStatistic("fewer than two clips rated by both coders")
    for name, ratings in zip(names, (first, second), strict=True):
        if np.unique(ratings).size == 1:
            raise UndefinedStatistic(
                f"{name} gave one value throughout ({ratings[0]:g}): kappa is 0 by "
                "construction, not a measure of agreement")
    w = agreement_weights(categories, weights)
    a = np.searchsorted(categories, first)
    b = np.searchsorted(categories, second)
    p_first = np.bincount(a, minlength=categories.size) / n
    p_second = np.bincount(b, minlength=categories.size) / n
    pa_units = w[a, b]
    pa = pa_units.mean()
    pe = p_first @ w @ p_second
    value = (pa - pe) / (1 - pe)
    pe_units = 0.5 * (w[a] @ p_second + w[:, b].T @ p_first)
    linearised = (pa_units - pe) / (1 - pe) - 2 * (1 - value) * (pe_units - pe) / (1 - pe)
    se = float(np.sqrt(((linearised - value) ** 2).sum() / (n * (n - 1))))
    return Coefficient(float(value), se, _interval(value, se, n, confidence), n)
