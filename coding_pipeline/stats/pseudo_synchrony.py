"""Per-session synchrony tested against pseudo-synchrony from between-dyad surrogates.

Pure numpy/scipy. A surrogate pairs one session's caregiver with another session's child, both
preprocessed as for the real pair, truncated to the shorter of the two: what two people who never
met reach by chance with the same windows and lags. Between-dyad pairing is rMEA's `shuffle`
(Kleinbub & Ramseyer 2021), documented there as more conservative than shuffling segments within a
dyad (Ramseyer & Tschacher 2010, 2011); see also Moulder, Boker, Ramseyer & Tschacher (2018),
Psychological Methods 23(4), 757-773, on surrogate tests of windowed cross-correlation.

The surrogate statistic is `sync_peak` (the mean of each window's peak |z|): peak picking is what
chance inflates most, which is why it needs its own baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from coding_pipeline.stats.synchrony import (
    DEFAULT_SETTINGS,
    SynchronySettings,
    caregiver_leads_share,
    correlate_one_to_many,
    fisher_z,
    peak_lag_s,
    preprocess,
    sync_lag0,
    sync_peak,
)


@dataclass(frozen=True)
class SessionSynchrony:
    """One session's synchrony and its standing against its own surrogates."""

    sync_lag0: float
    sync_peak: float
    peak_lag_s: float  # > 0: the caregiver leads
    caregiver_leads_share: float
    n_windows: int  # windows with a defined correlation
    pseudo_sync_peak: float  # mean sync_peak of this caregiver's surrogates
    sync_vs_pseudo: float  # (sync_peak - mean) / SD of the surrogates' sync_peak
    n_surrogates: int


@dataclass(frozen=True)
class PseudoComparison:
    """Real against pseudo sync_peak across sessions: paired t-test and Cohen's d_z."""

    n_sessions: int
    real_mean: float
    pseudo_mean: float
    t: float
    df: int
    p_value: float  # two-sided
    d_z: float


@dataclass(frozen=True)
class StudySynchrony:
    sessions: list[SessionSynchrony]  # in the order the sessions were given
    comparison: PseudoComparison


def between_dyad_partners(n_sessions: int, n_surrogates: int, seed: int) -> list[np.ndarray]:
    """For each session's caregiver, the indices of the other sessions' children it is paired
    with: n_surrogates spread as evenly as possible over the caregivers (the remainder to
    caregivers drawn at random), each caregiver's partners drawn without replacement, never its
    own child, at most n_sessions - 1 each. Seeded: the same call gives the same pairs.

    >>> [sorted(p.tolist()) for p in between_dyad_partners(3, 6, seed=1)]  # all others
    [[1, 2], [0, 2], [0, 1]]
    >>> sorted(p.size for p in between_dyad_partners(4, 5, seed=1))  # 5 over 4 caregivers
    [1, 1, 1, 2]
    """
    rng = np.random.default_rng(seed)
    if n_sessions < 2:
        return [np.array([], dtype=int) for _ in range(n_sessions)]
    counts = np.full(n_sessions, n_surrogates // n_sessions)
    counts[rng.choice(n_sessions, n_surrogates % n_sessions, replace=False)] += 1
    counts = np.minimum(counts, n_sessions - 1)
    partners = []
    for caregiver, count in enumerate(counts):
        others = np.delete(np.arange(n_sessions), caregiver)
        partners.append(rng.choice(others, count, replace=False))
    return partners


def sync_vs_pseudo(real: float, surrogates: np.ndarray) -> float:
    """z of the real value against its surrogates: (real - mean(s)) / SD(s) (SD with n - 1);
    NaN with fewer than two surrogates or none varying.

    >>> sync_vs_pseudo(2.0, np.array([0.0, 0.5, 1.0]))
    3.0
    """
    values = np.asarray(surrogates, dtype=float)
    values = values[~np.isnan(values)]
    if values.size < 2 or np.isnan(real):
        return float("nan")
    sd = float(np.std(values, ddof=1))
    return (real - float(values.mean())) / sd if sd > 0 else float("nan")


def compare_real_with_pseudo(real: np.ndarray, pseudo: np.ndarray) -> PseudoComparison:
    """Paired (Student's) t-test of each session's real sync_peak against the mean of its own
    surrogates (scipy.stats.ttest_rel), with Cohen's d_z = mean(d) / SD(d) (Lakens 2013,
    Front. Psychol. 4:863). Paired because each pseudo value shares the session's caregiver;
    sessions missing either value are left out.

    >>> result = compare_real_with_pseudo(np.array([0.5, 0.6, 0.7]), np.array([0.4, 0.4, 0.4]))
    >>> round(result.t, 3), result.df, round(result.d_z, 3)
    (3.464, 2, 2.0)
    """
    real, pseudo = np.asarray(real, dtype=float), np.asarray(pseudo, dtype=float)
    keep = ~(np.isnan(real) | np.isnan(pseudo))
    real, pseudo = real[keep], pseudo[keep]
    nan = float("nan")
    if real.size < 2:
        return PseudoComparison(int(real.size), _mean(real), _mean(pseudo), nan, 0, nan, nan)
    difference = real - pseudo
    sd = float(np.std(difference, ddof=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        test = scipy_stats.ttest_rel(real, pseudo)
    return PseudoComparison(
        n_sessions=int(real.size), real_mean=_mean(real), pseudo_mean=_mean(pseudo),
        t=float(test.statistic), df=int(real.size - 1), p_value=float(test.pvalue),
        d_z=float(difference.mean() / sd) if sd > 0 else nan)


def study_synchrony(sessions: Sequence[tuple[np.ndarray, np.ndarray]], fps: float,
                    settings: SynchronySettings = DEFAULT_SETTINGS, n_surrogates: int = 1000,
                    seed: int = 0) -> StudySynchrony:
    """Synchrony of every session (caregiver series, child series: raw motion energy at `fps`,
    NaN for excluded frames) and the between-dyad pseudo-synchrony test.

    Every series is preprocessed once (`synchrony.preprocess`); each caregiver is correlated with
    its own child and its surrogate partners in one vectorised pass.
    """
    window, step, max_lag = settings.samples(fps)
    lags_s = np.arange(-max_lag, max_lag + 1) / fps
    caregivers = [preprocess(caregiver, fps, settings) for caregiver, _ in sessions]
    children = [preprocess(child, fps, settings) for _, child in sessions]
    partners = between_dyad_partners(len(sessions), n_surrogates, seed)
    results = []
    for index, caregiver in enumerate(caregivers):
        paired = [children[index]] + [children[j] for j in partners[index]]
        z_real, *z_surrogates = (fisher_z(r) for r in
                                 correlate_one_to_many(caregiver, paired, window, step, max_lag))
        results.append(_session_result(z_real, z_surrogates, lags_s))
    comparison = compare_real_with_pseudo(np.array([s.sync_peak for s in results]),
                                          np.array([s.pseudo_sync_peak for s in results]))
    return StudySynchrony(sessions=results, comparison=comparison)


def _session_result(z_real: np.ndarray, z_surrogates: list[np.ndarray],
                    lags_s: np.ndarray) -> SessionSynchrony:
    surrogate_peaks = np.array([sync_peak(z) for z in z_surrogates])
    real_peak = sync_peak(z_real)
    return SessionSynchrony(
        sync_lag0=sync_lag0(z_real), sync_peak=real_peak,
        peak_lag_s=peak_lag_s(z_real, lags_s),
        caregiver_leads_share=caregiver_leads_share(z_real, lags_s),
        n_windows=int((~np.isnan(z_real)).any(axis=1).sum()),
        pseudo_sync_peak=_mean(surrogate_peaks[~np.isnan(surrogate_peaks)]),
        sync_vs_pseudo=sync_vs_pseudo(real_peak, surrogate_peaks),
        n_surrogates=len(z_surrogates))


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
