"""Movement synchrony: the FFT cross-correlation against np.corrcoef window by window, a known
delay recovered, independent series not above pseudo-synchrony, and the missing-data rules."""

import doctest

import numpy as np
import pytest

from coding_pipeline.stats import pseudo_synchrony, synchrony
from coding_pipeline.stats.pseudo_synchrony import (
    between_dyad_partners,
    compare_real_with_pseudo,
    study_synchrony,
)
from coding_pipeline.stats.synchrony import (
    SynchronySettings,
    cap_outliers,
    correlate_one_to_many,
    lagged_correlation,
    moving_average,
    scale_by_sd,
    window_count,
)

FPS = 30


def motion_like(rng, frames, smooth=9):
    """Non-negative, autocorrelated series shaped like motion energy."""
    noise = rng.normal(size=frames + smooth - 1)
    return np.abs(np.convolve(noise, np.ones(smooth) / smooth, mode="valid"))


def direct_lagged_r(caregiver, child, window, step, max_lag):
    """The module's definition written out: rMEA's spans, complete pairs, np.corrcoef."""
    n = min(caregiver.size, child.size)
    span = window + max_lag
    rows = []
    for start in range(0, n - span + 1, step):
        x_span, y_span = caregiver[start:start + span], child[start:start + span]
        if max(np.isnan(x_span).sum(), np.isnan(y_span).sum()) > span / 2:
            rows.append([np.nan] * (2 * max_lag + 1))
            continue
        row = []
        for lag in range(-max_lag, max_lag + 1):
            x = x_span[max(0, -lag):max(0, -lag) + window]
            y = y_span[max(0, lag):max(0, lag) + window]
            complete = ~(np.isnan(x) | np.isnan(y))
            row.append(np.corrcoef(x[complete], y[complete])[0, 1])
        rows.append(row)
    return np.array(rows)


def test_cross_correlation_matches_corrcoef_per_window_and_lag():
    rng = np.random.default_rng(3)
    caregiver, child = motion_like(rng, 1300) + 5.0, motion_like(rng, 1300)
    caregiver[rng.choice(1300, 120, replace=False)] = np.nan
    child[rng.choice(1300, 90, replace=False)] = np.nan
    child[400:470] = np.nan  # a gap: fewer complete pairs in some windows and lags
    expected = direct_lagged_r(caregiver, child, window=150, step=60, max_lag=45)
    ours = correlate_one_to_many(caregiver, [child], 150, 60, 45)[0]
    assert ours.shape == expected.shape == (window_count(1300, 150, 60, 45), 91)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)


def test_lagged_correlation_in_seconds_and_sign_convention():
    rng = np.random.default_rng(4)
    leader = motion_like(rng, 3000)
    follower = np.r_[np.zeros(6), leader[:-6]] + 0.05 * rng.normal(size=3000)
    settings = SynchronySettings(window_s=20, step_s=10, max_lag_s=1)
    caregiver_leads = lagged_correlation(leader, follower, FPS, settings)
    child_leads = lagged_correlation(follower, leader, FPS, settings)
    assert caregiver_leads.lags_s[[0, 30, -1]].tolist() == [-1.0, 0.0, 1.0]
    assert caregiver_leads.window_start_s[:3].tolist() == [0.0, 10.0, 20.0]
    peak = caregiver_leads.lags_s[np.argmax(caregiver_leads.r, axis=1)]
    assert np.all(peak == pytest.approx(6 / FPS))
    assert np.all(child_leads.lags_s[np.argmax(child_leads.r, axis=1)] == pytest.approx(-6 / FPS))


def test_window_more_than_half_missing_gives_none():
    rng = np.random.default_rng(5)
    caregiver, child = motion_like(rng, 600), motion_like(rng, 600)
    # span = 100 + 20 = 120 samples, step 120: windows [0,120), [120,240), [240,360), ...
    caregiver[120:180] = np.nan  # exactly half of window 1's span: still computed
    child[240:301] = np.nan  # 61 of 120 of window 2's span: none
    r = correlate_one_to_many(caregiver, [child], window=100, step=120, max_lag=20)[0]
    assert np.isfinite(r[[0, 1, 3, 4]]).all()
    assert np.isnan(r[2]).all()
    np.testing.assert_allclose(r, direct_lagged_r(caregiver, child, 100, 120, 20), atol=1e-9)


def test_lag_without_three_complete_pairs_or_variation_gives_none():
    caregiver = np.r_[np.arange(10.0), np.full(10, np.nan)]
    child = np.r_[np.full(10, np.nan), np.arange(10.0)]
    r = correlate_one_to_many(caregiver, [child], window=10, step=10, max_lag=10)[0]
    # one span of 20, each person half missing; lag L >= 0 pairs caregiver[t] with child[t + L]
    # for t < 10: complete for t >= 10 - L, so L complete pairs; negative lags have none.
    assert np.isnan(r[0, :13]).all()  # lags -10 .. 2: fewer than three complete pairs
    assert r[0, 13:] == pytest.approx(np.ones(8))
    still = correlate_one_to_many(np.full(40, 2.0), [np.arange(40.0)], 10, 10, 5)[0]
    assert np.isnan(still).all()


def test_surrogate_shorter_child_truncates_the_pair():
    rng = np.random.default_rng(6)
    caregiver, long_child, short_child = (motion_like(rng, n) for n in (900, 1000, 700))
    long_r, short_r = correlate_one_to_many(caregiver, [long_child, short_child], 120, 60, 30)
    assert long_r.shape[0] == window_count(900, 120, 60, 30)
    assert short_r.shape[0] == window_count(700, 120, 60, 30)
    alone = correlate_one_to_many(caregiver[:700], [short_child], 120, 60, 30)[0]
    np.testing.assert_allclose(short_r, alone, atol=1e-12)


def delayed_sessions(rng, n_sessions, frames, delay_frames):
    sessions = []
    for _ in range(n_sessions):
        caregiver = motion_like(rng, frames + delay_frames)
        child = caregiver[:frames] + motion_like(rng, frames)  # noise as strong as the signal
        sessions.append((caregiver[delay_frames:], child))
    return sessions


def test_known_delay_is_recovered_and_above_pseudo_synchrony():
    rng = np.random.default_rng(7)
    sessions = delayed_sessions(rng, n_sessions=10, frames=4 * 60 * FPS, delay_frames=15)
    result = study_synchrony(sessions, FPS, n_surrogates=60, seed=1)
    for session in result.sessions:
        assert abs(session.peak_lag_s - 0.5) <= 1 / FPS
        assert session.caregiver_leads_share == 1.0
        assert session.sync_vs_pseudo > 3
        assert session.n_surrogates == 6 and session.n_windows == 14  # (7200 - 1050) // 450 + 1
    assert result.comparison.real_mean > result.comparison.pseudo_mean
    assert result.comparison.p_value < 1e-6


def test_independent_series_are_not_above_pseudo_synchrony():
    rng = np.random.default_rng(8)
    sessions = [(motion_like(rng, 4 * 60 * FPS), motion_like(rng, 4 * 60 * FPS))
                for _ in range(12)]
    comparison = study_synchrony(sessions, FPS, n_surrogates=120, seed=2).comparison
    assert comparison.n_sessions == 12
    assert not (comparison.t > 0 and comparison.p_value < 0.05)
    assert abs(comparison.real_mean - comparison.pseudo_mean) < 0.05


def test_excluded_frames_leave_the_delay_intact():
    rng = np.random.default_rng(9)
    (caregiver, child), *_ = delayed_sessions(rng, 1, 3 * 60 * FPS, 15)
    caregiver, child = caregiver.copy(), child.copy()
    moved = rng.choice(caregiver.size, 300, replace=False)  # background moved: both excluded
    caregiver[moved] = child[moved] = np.nan
    result = study_synchrony([(caregiver, child)], FPS, n_surrogates=0)
    assert abs(result.sessions[0].peak_lag_s - 0.5) <= 1 / FPS
    assert np.isnan(result.sessions[0].sync_vs_pseudo)


def test_between_dyad_partners_rules():
    partners = between_dyad_partners(20, 1000, seed=3)
    assert [p.size for p in partners] == [19] * 20  # capped at every other child
    partners = between_dyad_partners(20, 50, seed=3)
    assert sorted(p.size for p in partners) == [2] * 10 + [3] * 10
    for caregiver, chosen in enumerate(partners):
        assert caregiver not in chosen and len(set(chosen.tolist())) == chosen.size
    again = between_dyad_partners(20, 50, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(partners, again, strict=True))


def test_preprocessing_rules():
    series = np.array([1.0, np.nan, 3.0, 5.0, 7.0, 100.0])
    smooth = moving_average(series, fps=3, window_s=1)
    np.testing.assert_allclose(smooth, [1.0, np.nan, 4.0, 5.0, 112 / 3, 53.5])
    spikes = np.r_[np.ones(300), 1000.0]
    capped = cap_outliers(spikes, sd_limit=10)
    assert capped[-1] == pytest.approx(10 * np.std(spikes, ddof=1))
    assert capped[:-1].tolist() == [1.0] * 300
    scaled = scale_by_sd(np.array([2.0, np.nan, 4.0, 6.0]))
    assert np.nanstd(scaled, ddof=1) == pytest.approx(1.0) and np.isnan(scaled[1])


def test_comparison_needs_two_sessions():
    result = compare_real_with_pseudo(np.array([0.5, np.nan]), np.array([0.2, 0.3]))
    assert result.n_sessions == 1 and np.isnan(result.t)


@pytest.mark.parametrize("module", [synchrony, pseudo_synchrony])
def test_docstring_examples(module):
    outcome = doctest.testmod(module)
    assert outcome.attempted > 0 and outcome.failed == 0
