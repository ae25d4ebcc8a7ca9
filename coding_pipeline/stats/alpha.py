"""Krippendorff's alpha from coincidence matrices, and a vectorised bootstrap over units.

Source: Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School
for Communication, University of Pennsylvania. With n_uc the number of coders who gave unit u
value c and m_u = sum_c n_uc (units with m_u >= 2 only, the "pairable" values):

    o_ck  = sum_u (n_uc n_uk - [c = k] n_uc) / (m_u - 1)          coincidences
    n_c   = sum_k o_ck,  n = sum_c n_c
    alpha = 1 - D_o / D_e = 1 - (n - 1) sum_ck o_ck d2_ck / sum_ck n_c n_k d2_ck

with the difference functions d2 (nominal: [c != k]; ordinal: (sum_{g=c..k} n_g - (n_c + n_k)/2)^2;
interval: (c - k)^2; ratio: ((c - k) / (c + k))^2).

Bootstrap: o_ck is a sum of one small matrix per unit, so a resample of units with counts w_u
(multinomial) has coincidences sum_u w_u o_uck: all resamples at once are one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coding_pipeline.stats import UndefinedStatistic

LEVELS = ("nominal", "ordinal", "interval", "ratio")


@dataclass(frozen=True)
class PairableCounts:
    """Value counts of the units rated at least twice: counts[u, c] = n_uc for values[c]."""

    counts: np.ndarray  # (units, values) float
    values: np.ndarray  # (values,) sorted

    @property
    def n_units(self) -> int:
        return self.counts.shape[0]


def pairable_counts(unit_ratings: np.ndarray, values: np.ndarray | None = None) -> PairableCounts:
    """Count each unit's values from a units x coders array (NaN = not rated).

    Units with fewer than two ratings carry no information on agreement and are dropped.
    `values` is the value domain (e.g. the scale points); by default the values observed.
    """
    data = np.asarray(unit_ratings, dtype=float)
    if data.ndim != 2:
        raise ValueError("unit_ratings must be a units x coders array")
    data = data[(~np.isnan(data)).sum(axis=1) >= 2]
    observed = np.unique(data[~np.isnan(data)])
    domain = observed if values is None else np.unique(np.asarray(values, dtype=float))
    if not np.isin(observed, domain).all():
        outside = observed[~np.isin(observed, domain)]
        raise ValueError(f"values {outside.tolist()} are outside the value domain")
    counts = np.zeros((data.shape[0], domain.size))
    rows = np.arange(data.shape[0])
    for column in data.T:
        present = ~np.isnan(column)
        np.add.at(counts, (rows[present], np.searchsorted(domain, column[present])), 1.0)
    return PairableCounts(counts=counts, values=domain)


def fixed_differences(values: np.ndarray, level: str) -> np.ndarray:
    """The squared difference d2_ck for the levels whose metric does not depend on the data."""
    c, k = np.meshgrid(values, values, indexing="ij")
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        total = c + k
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(total == 0, 0.0, (c - k) / np.where(total == 0, 1.0, total))
        return ratio**2
    raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")


def ordinal_differences(marginals: np.ndarray) -> np.ndarray:
    """Ordinal d2_ck = (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 for marginals (..., V) -> (..., V, V).

    Equal to (mid_k - mid_c)^2 with mid_c = sum_{g<=c} n_g - n_c / 2 (a rank midpoint).
    """
    mid = np.cumsum(marginals, axis=-1) - marginals / 2.0
    return (mid[..., None, :] - mid[..., :, None]) ** 2


def _alpha_from_parts(
    observed: np.ndarray, marginals: np.ndarray, expected: np.ndarray
) -> np.ndarray:
    """alpha = 1 - (n - 1) * sum(o d2) / sum(n_c n_k d2); NaN where the latter is 0."""
    n = marginals.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = 1.0 - (n - 1.0) * observed / expected
    return np.where(expected > 0, result, np.nan)


def unit_contributions(pairable: PairableCounts, level: str) -> np.ndarray:
    """Per-unit terms whose sums over units determine alpha (units x columns).

    The first V columns are the value counts n_uc (their sums are the marginals n_c); then,
    for ordinal data (whose metric depends on the marginals), the unit's V x V coincidences
    o_uck; for the other levels, the unit's disagreement sum_ck o_uck d2_ck (one column).
    """
    counts = pairable.counts
    pairs_per_unit = counts.sum(axis=1) - 1.0  # m_u - 1
    if level == "ordinal":
        size = counts.shape[1]
        per_unit = (counts[:, :, None] * counts[:, None, :]) / pairs_per_unit[:, None, None]
        per_unit[:, np.arange(size), np.arange(size)] -= counts / pairs_per_unit[:, None]
        return np.hstack([counts, per_unit.reshape(counts.shape[0], -1)])
    d2 = fixed_differences(pairable.values, level)
    disagreement = ((counts @ d2) * counts).sum(axis=1) / pairs_per_unit
    return np.hstack([counts, disagreement[:, None]])


def alpha_from_sums(sums: np.ndarray, values: np.ndarray, level: str) -> np.ndarray:
    """Alpha for each row of summed `unit_contributions` (NaN where undefined)."""
    size = values.size
    marginals = sums[:, :size]
    if level == "ordinal":
        coincidences = sums[:, size:].reshape(-1, size, size)
        d2 = ordinal_differences(marginals)
        observed = (coincidences * d2).sum(axis=(1, 2))
        expected = np.einsum("bc,bck,bk->b", marginals, d2, marginals)
    else:
        d2 = fixed_differences(values, level)
        observed = sums[:, size]
        expected = ((marginals @ d2) * marginals).sum(axis=1)
    return _alpha_from_parts(observed, marginals, expected)


def _check(pairable: PairableCounts, level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if pairable.n_units == 0:
        raise UndefinedStatistic("no clip was rated by two or more coders")


def alpha_from_counts(pairable: PairableCounts, level: str) -> float:
    """Krippendorff's alpha of pairable value counts (see the module docstring for the formula)."""
    _check(pairable, level)
    sums = unit_contributions(pairable, level).sum(axis=0, keepdims=True)
    value = alpha_from_sums(sums, pairable.values, level)[0]
    if np.isnan(value):
        raise UndefinedStatistic("all ratings are the same value (no variation to agree on)")
    return float(value)


def krippendorff_alpha(
    unit_ratings: np.ndarray, level: str = "ordinal", values: np.ndarray | None = None
) -> float:
    """Krippendorff's alpha of a units x coders array (NaN = not rated).

    Note the orientation: rows are units (clips), columns coders; the `krippendorff` package
    takes the transpose.
    """
    return alpha_from_counts(pairable_counts(unit_ratings, values), level)


@dataclass(frozen=True)
class BootstrapInterval:
    """A percentile bootstrap interval over units."""

    low: float | None
    high: float | None
    resamples: int
    undefined: int  # resamples in which alpha was undefined (no variation)
    estimates: np.ndarray  # the defined resample estimates


def resample_weights(n_units: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each unit is drawn in each resample (resamples x units), drawing with
    replacement n_units times per resample."""
    draws = rng.integers(0, n_units, size=(resamples, n_units))
    draws += (np.arange(resamples) * n_units)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n_units).reshape(
        resamples, n_units
    ).astype(float)


class ClipResampler:
    """Seeded bootstrap resamples of units, drawn once per number of units and reused.

    Variables rated on the same clips (in the same order) are therefore resampled identically:
    one joint bootstrap over clips for all items and composites, and the draws are made once.
    """

    def __init__(self, resamples: int, seed: int):
        self.resamples = resamples
        self.seed = seed
        self._drawn: dict[int, np.ndarray] = {}

    def weights(self, n_units: int) -> np.ndarray:
        """Resamples x units counts (uint16: a unit drawn over 65,535 times is impossible
        in practice, Poisson(1) tail)."""
        if n_units not in self._drawn:
            rng = np.random.default_rng(self.seed)
            self._drawn[n_units] = resample_weights(n_units, self.resamples, rng).astype(
                np.uint16)
        return self._drawn[n_units]


def bootstrap_alpha(
    pairable: PairableCounts,
    level: str,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    resampler: ClipResampler | None = None,
    chunk: int = 250,
) -> BootstrapInterval:
    """Percentile bootstrap interval of alpha, resampling units (clips) with replacement.

    Units are resampled as in R's krippendorffsalpha (rather than Hayes & Krippendorff's
    resampling of pairable values). Resamples where alpha is undefined (every resampled value
    the same) are counted and left out of the percentiles. Seeded: same seed, same interval.
    A shared `resampler` (its resamples and seed are used) reuses the draws across variables.
    """
    _check(pairable, level)
    resampler = resampler or ClipResampler(resamples, seed)
    resamples = resampler.resamples
    counts = resampler.weights(pairable.n_units)
    contributions = unit_contributions(pairable, level)
    estimates = [
        alpha_from_sums(counts[start:start + chunk].astype(float) @ contributions,
                        pairable.values, level)
        for start in range(0, resamples, chunk)
    ]
    every = np.concatenate(estimates) if estimates else np.empty(0)
    defined = every[~np.isnan(every)]
    undefined = int(every.size - defined.size)
    if defined.size < 2:
        return BootstrapInterval(None, None, resamples, undefined, defined)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(defined, [tail, 100.0 - tail])
    return BootstrapInterval(float(low), float(high), resamples, undefined, defined)
