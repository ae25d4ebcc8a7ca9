"""ICC forms against Shrout & Fleiss (1979) and an independent ANOVA written out in loops."""

import numpy as np
import pytest
from scipy import stats

from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.icc import icc_a1, icc_oneway, shrout_fleiss_forms

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = np.array([
    [9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7],
], dtype=float)
PUBLISHED = {"ICC(1,1)": 0.17, "ICC(2,1)": 0.29, "ICC(3,1)": 0.71,
             "ICC(1,k)": 0.44, "ICC(2,k)": 0.62, "ICC(3,k)": 0.91}


def mean_squares_by_loops(matrix):
    """BMS, JMS, EMS, WMS summed element by element (Shrout & Fleiss 1979, Table 1)."""
    rows = [list(r) for r in matrix]
    n, k = len(rows), len(rows[0])
    grand = sum(sum(r) for r in rows) / (n * k)
    row_means = [sum(r) / k for r in rows]
    col_means = [sum(rows[i][j] for i in range(n)) / n for j in range(k)]
    bss = sum(k * (m - grand) ** 2 for m in row_means)
    jss = sum(n * (m - grand) ** 2 for m in col_means)
    wss = sum((rows[i][j] - row_means[i]) ** 2 for i in range(n) for j in range(k))
    ess = wss - jss
    return bss / (n - 1), jss / (k - 1), ess / ((n - 1) * (k - 1)), wss / (n * (k - 1))


def test_shrout_fleiss_published_values():
    forms = shrout_fleiss_forms(SHROUT_FLEISS)
    for name, published in PUBLISHED.items():
        assert round(forms[name], 2) == published, name


def test_shrout_fleiss_forms_match_independent_mean_squares():
    bms, jms, ems, wms = mean_squares_by_loops(SHROUT_FLEISS)
    n, k = SHROUT_FLEISS.shape
    expected = {
        "ICC(1,1)": (bms - wms) / (bms + (k - 1) * wms),
        "ICC(2,1)": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
        "ICC(3,1)": (bms - ems) / (bms + (k - 1) * ems),
        "ICC(1,k)": (bms - wms) / bms,
        "ICC(2,k)": (bms - ems) / (bms + (jms - ems) / n),
        "ICC(3,k)": (bms - ems) / bms,
    }
    forms = shrout_fleiss_forms(SHROUT_FLEISS)
    for name, value in expected.items():
        assert forms[name] == pytest.approx(value, abs=1e-12), name


def icc2_interval_fleiss_shrout(matrix, alpha=0.05):
    """ICC(2,1)'s interval in Fleiss & Shrout's (1978) form of the Satterthwaite df
    (the form pingouin uses), written independently of McGraw & Wong's a/b form."""
    msr, msc, mse, _ = mean_squares_by_loops(matrix)
    n, k = matrix.shape
    icc = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    fj = msc / mse
    vn = (k - 1) * (n - 1) * (k * icc * fj + n * (1 + (k - 1) * icc) - k * icc) ** 2
    vd = (n - 1) * k**2 * icc**2 * fj**2 + (n * (1 + (k - 1) * icc) - k * icc) ** 2
    v = vn / vd
    f_upper = stats.f.ppf(1 - alpha / 2, n - 1, v)
    f_lower = stats.f.ppf(1 - alpha / 2, v, n - 1)
    low = n * (msr - f_upper * mse) / (f_upper * (k * msc + (k * n - k - n) * mse) + n * msr)
    high = n * (f_lower * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_lower * msr)
    return icc, low, high


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_icc_a1_and_interval_match_independent_formula(seed):
    matrix = SHROUT_FLEISS
    if seed is not None:
        rng = np.random.default_rng(seed)
        matrix = rng.normal(0, 1, (30, 1)) + rng.normal(0, 0.8, (30, 3)) + [0, 0.3, -0.2]
    result = icc_a1(matrix)
    value, low, high = icc2_interval_fleiss_shrout(matrix)
    assert result.form == "ICC(A,1)"
    assert result.value == pytest.approx(value, abs=1e-9)
    assert result.ci[0] == pytest.approx(low, abs=1e-6)
    assert result.ci[1] == pytest.approx(high, abs=1e-6)
    assert result.ci[0] < result.value < result.ci[1]


def oneway_by_loops(groups):
    """ICC(1) for unbalanced groups (e.g. Donner 1986): k0 = (N - sum n_i^2 / N) / (n - 1)."""
    n = len(groups)
    total = sum(len(g) for g in groups)
    grand = sum(sum(g) for g in groups) / total
    msb = sum(len(g) * (sum(g) / len(g) - grand) ** 2 for g in groups) / (n - 1)
    msw = sum((x - sum(g) / len(g)) ** 2 for g in groups for x in g) / (total - n)
    k0 = (total - sum(len(g) ** 2 for g in groups) / total) / (n - 1)
    return (msb - msw) / (msb + (k0 - 1) * msw), msb / msw, n, total, k0


def test_oneway_icc_balanced_equals_shrout_fleiss_icc11():
    result = icc_oneway(SHROUT_FLEISS)
    assert result.form == "ICC(1)"
    assert result.value == pytest.approx(shrout_fleiss_forms(SHROUT_FLEISS)["ICC(1,1)"], abs=1e-12)


def test_oneway_icc_unbalanced_matches_loops_and_f_interval():
    rng = np.random.default_rng(5)
    matrix = rng.normal(0, 1, (40, 1)) + rng.normal(0, 0.6, (40, 4))
    matrix[rng.random(matrix.shape) < 0.35] = np.nan
    groups = [list(r[~np.isnan(r)]) for r in matrix if (~np.isnan(r)).sum() >= 2]
    value, f0, n, total, k0 = oneway_by_loops(groups)
    result = icc_oneway(matrix)
    assert result.value == pytest.approx(value, abs=1e-12)
    f_low = f0 / stats.f.ppf(0.975, n - 1, total - n)
    f_high = f0 * stats.f.ppf(0.975, total - n, n - 1)
    assert result.ci[0] == pytest.approx((f_low - 1) / (f_low + k0 - 1), abs=1e-9)
    assert result.ci[1] == pytest.approx((f_high - 1) / (f_high + k0 - 1), abs=1e-9)


def test_undefined_iccs_say_why():
    with pytest.raises(UndefinedStatistic, match="fewer than two"):
        icc_a1(np.array([[1.0, 2.0]]))
    with pytest.raises(UndefinedStatistic, match="no variance"):
        icc_a1(np.full((4, 2), 3.0))
    with pytest.raises(UndefinedStatistic, match="fewer than two"):
        icc_oneway(np.array([[1.0, 2.0], [3.0, np.nan]]))
    with pytest.raises(UndefinedStatistic, match="no variance"):
        icc_oneway(np.full((4, 3), 2.0))


def test_icc_a1_undefined_when_the_clips_do_not_differ():
    # each coder gives every clip one rating of their own: no clip variance, no residual;
    # the point value would be 0 by construction and the interval 0/0
    with pytest.raises(UndefinedStatistic, match="clips do not differ"):
        icc_a1(np.array([[3.0, 4.0], [3.0, 4.0], [3.0, 4.0]]))
