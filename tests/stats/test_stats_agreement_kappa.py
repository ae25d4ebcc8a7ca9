"""Exact / within-one agreement over coder pairs, and quadratic-weighted kappa."""

import numpy as np
import pytest

from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.agreement import pairwise_agreement
from coding_pipeline.stats.gwet import weighted_kappa

NAN = np.nan


def test_agreement_counts_every_pair_of_every_clip():
    units = np.array([
        [3, 3, 4],      # pairs: 3-3 exact, 3-4 within one, 3-4 within one
        [1, NAN, 4],    # 1-4: neither
        [2, 2, NAN],    # exact
        [5, NAN, NAN],  # one rating: no pair
    ])
    found = pairwise_agreement(units)
    assert found.n_pairs == 5
    assert found.exact == pytest.approx(2 / 5)
    assert found.within_one == pytest.approx(4 / 5)


def test_within_one_holds_for_composite_means_exactly_one_apart():
    found = pairwise_agreement(np.array([[3.25, 4.25], [2.2, 3.2]]))
    assert found.within_one == 1.0


def test_agreement_without_pairs_is_undefined():
    with pytest.raises(UndefinedStatistic):
        pairwise_agreement(np.array([[1.0, NAN], [NAN, 2.0]]))


def kappa_by_moments(x, y):
    """Quadratic-weighted kappa = 2 cov(x, y) / (var x + var y + (mean x - mean y)^2), with
    population moments (an identity; e.g. Schuster 2004)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    covariance = ((x - x.mean()) * (y - y.mean())).mean()
    return 2 * covariance / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_quadratic_kappa_matches_moment_identity(seed):
    rng = np.random.default_rng(seed)
    first = rng.integers(1, 6, 60)
    second = np.clip(first + rng.integers(-1, 3, 60), 1, 5)
    ours = quadratic_kappa(first, second, np.arange(1, 6))
    assert ours == pytest.approx(kappa_by_moments(first, second), abs=1e-12)


def test_quadratic_kappa_by_hand():
    # pairs (1,1), (2,2), (2,1): p_21 = 1/3 is the only disagreement (weight 1);
    # marginals first [1/3, 2/3], second [2/3, 1/3]: e_12 = 1/9, e_21 = 4/9.
    # kappa = 1 - (1/3) / (5/9) = 0.4
    assert quadratic_kappa([1, 2, 2], [1, 2, 1], [1, 2]) == pytest.approx(0.4)
    assert quadratic_kappa([1, 2, 3], [1, 2, 3], [1, 2, 3, 4, 5]) == pytest.approx(1.0)


def quadratic_kappa(first, second, categories):
    return weighted_kappa(first, second, categories, "quadratic").value


def test_quadratic_kappa_undefined_without_variation():
    with pytest.raises(UndefinedStatistic, match="one value throughout"):
        quadratic_kappa([3, 3], [3, 3], [1, 2, 3, 4, 5])
    with pytest.raises(UndefinedStatistic):
        quadratic_kappa([], [], [1, 2, 3])


def test_quadratic_kappa_undefined_when_one_coder_never_varies():
    # one constant coder makes the observed table equal the chance table: kappa is 0 by
    # construction, not a measure of agreement
    assert kappa_by_moments([3, 3, 3], [2, 3, 4]) == 0
    with pytest.raises(UndefinedStatistic, match="first coder gave one value throughout"):
        quadratic_kappa([3, 3, 3], [2, 3, 4], [1, 2, 3, 4, 5])
    with pytest.raises(UndefinedStatistic, match="second coder gave one value throughout"):
        quadratic_kappa([1, 3, 5], [4, 4, 4], [1, 2, 3, 4, 5])
    with pytest.raises(UndefinedStatistic, match="fewer than two clips"):
        quadratic_kappa([3], [4], [1, 2, 3, 4, 5])
