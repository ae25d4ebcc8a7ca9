"""Krippendorff's alpha: the published worked example, the krippendorff package, the bootstrap."""

import krippendorff
import numpy as np
import pytest

from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.alpha import (
    ClipResampler,
    alpha_from_sums,
    bootstrap_alpha,
    krippendorff_alpha,
    pairable_counts,
    resample_weights,
    unit_contributions,
)

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders x 12 units.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
])
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


@pytest.mark.parametrize("level", list(PUBLISHED))
def test_krippendorff_2011_worked_example(level):
    ours = krippendorff_alpha(KRIPPENDORFF_2011.T, level)
    assert round(ours, 3) == PUBLISHED[level]
    reference = krippendorff.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level)
    assert ours == pytest.approx(reference, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_matches_krippendorff_package_on_random_data_with_missing_ratings(level, seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=150)
    data = np.clip(truth + rng.integers(-1, 2, size=(4, 150)), 1, 5).astype(float)
    data[rng.random(data.shape) < 0.45] = NAN
    ours = krippendorff_alpha(data.T, level, values=[1, 2, 3, 4, 5])
    reference = krippendorff.alpha(
        reliability_data=data, level_of_measurement=level, value_domain=[1, 2, 3, 4, 5]
    )
    assert ours == pytest.approx(reference, abs=1e-6)
    assert ours > 0.2  # the simulated coders agree: a sign error would show


def test_interval_alpha_on_composite_means_matches_package():
    rng = np.random.default_rng(7)
    data = np.round(rng.normal(3, 0.8, size=(3, 80)) * 4) / 4  # quarter steps, like composites
    data[rng.random(data.shape) < 0.3] = NAN
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
    assert krippendorff_alpha(data.T, "interval") == pytest.approx(reference, abs=1e-6)


def test_units_rated_once_are_ignored():
    with_single = np.vstack([KRIPPENDORFF_2011.T, [[5, NAN, NAN, NAN]]])
    assert pairable_counts(with_single).n_units == 11  # unit 12 of the example and the new one
    assert krippendorff_alpha(with_single, "ordinal") == pytest.approx(
        krippendorff_alpha(KRIPPENDORFF_2011.T, "ordinal"))


def test_undefined_alpha_says_why():
    with pytest.raises(UndefinedStatistic, match="same value"):
        krippendorff_alpha(np.full((5, 2), 3.0), "ordinal", values=[1, 2, 3, 4, 5])
    with pytest.raises(UndefinedStatistic, match="two or more coders"):
        krippendorff_alpha(np.array([[1.0, NAN], [NAN, 2.0]]), "ordinal")


def test_value_outside_domain_is_refused():
    with pytest.raises(ValueError, match="outside"):
        pairable_counts(np.array([[1.0, 7.0]]), values=[1, 2, 3, 4, 5])


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_a_weighted_resample_equals_alpha_of_the_duplicated_units(level):
    """The bootstrap's matrix product must equal alpha computed on the resampled data."""
    units = KRIPPENDORFF_2011.T
    pairable = pairable_counts(units)
    weights = resample_weights(pairable.n_units, 5, np.random.default_rng(3))
    pairable_units = units[(~np.isnan(units)).sum(axis=1) >= 2]
    fast = alpha_from_sums(weights @ unit_contributions(pairable, level), pairable.values, level)
    for row, value in zip(weights, fast, strict=True):
        resampled = np.repeat(pairable_units, row.astype(int), axis=0)
        reference = krippendorff.alpha(
            reliability_data=resampled.T, level_of_measurement=level,
            value_domain=pairable.values,
        )
        assert value == pytest.approx(reference, abs=1e-9)


def test_resample_weights_draw_each_resample_with_replacement():
    weights = resample_weights(40, 300, np.random.default_rng(0))
    assert weights.shape == (300, 40)
    assert (weights.sum(axis=1) == 40).all()
    assert weights.mean() == pytest.approx(1.0)
    assert (weights == 0).mean() == pytest.approx((39 / 40) ** 40, abs=0.02)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    pairable = pairable_counts(KRIPPENDORFF_2011.T)
    first = bootstrap_alpha(pairable, "ordinal", resamples=500, seed=9)
    again = bootstrap_alpha(pairable, "ordinal", resamples=500, seed=9)
    other = bootstrap_alpha(pairable, "ordinal", resamples=500, seed=10)
    assert (first.low, first.high) == (again.low, again.high)
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low < 0.815 < first.high
    assert first.resamples == 500
    assert first.undefined + first.estimates.size == 500


def test_bootstrap_counts_undefined_resamples():
    # one disagreeing unit among many identical ones: resamples without it have no variation
    units = np.vstack([np.full((3, 2), 2.0), [[1.0, 2.0]]])
    interval = bootstrap_alpha(pairable_counts(units), "ordinal", resamples=400, seed=1)
    expected_undefined = 400 * (3 / 4) ** 4
    assert interval.undefined == pytest.approx(expected_undefined, rel=0.3)


def test_bootstrap_interval_covers_a_known_alpha():
    """x = true score + noise, both normal: population alpha = var(T) / (var(T) + var(e))."""
    rng = np.random.default_rng(2026)
    true_alpha = 1.0 / (1.0 + 0.7**2)
    replications, covered = 200, 0
    for _ in range(replications):
        truth = rng.normal(0, 1, size=(80, 1))
        units = truth + rng.normal(0, 0.7, size=(80, 3))
        units[rng.random(units.shape) < 0.2] = NAN
        interval = bootstrap_alpha(
            pairable_counts(units), "interval", resamples=400, seed=int(rng.integers(1 << 30))
        )
        covered += interval.low <= true_alpha <= interval.high
    coverage = covered / replications
    assert 0.88 <= coverage <= 0.99, coverage


def test_shared_resampler_draws_once_and_matches_a_fresh_one():
    pairable = pairable_counts(KRIPPENDORFF_2011.T)
    shared = ClipResampler(300, 4)
    ordinal = bootstrap_alpha(pairable, "ordinal", resampler=shared)
    interval = bootstrap_alpha(pairable, "interval", resampler=shared)
    assert shared.weights(pairable.n_units) is shared.weights(pairable.n_units)
    fresh = bootstrap_alpha(pairable, "ordinal", resamples=300, seed=4)
    assert (ordinal.low, ordinal.high) == (fresh.low, fresh.high)
    assert interval.resamples == 300
