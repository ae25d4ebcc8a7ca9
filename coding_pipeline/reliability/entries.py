"""The per-variable entries of a reliability result: for one item or composite, alpha with its
bootstrap interval, REML variance components and the ICC forms, exact and within-one
agreement, Gwet's AC2; per coder pair weighted kappa; per coder the bias. Pure (arrays and
tables in, JSON-ready dicts out); the statistics themselves are in `coding_pipeline.stats`.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from coding_pipeline.scheme import Scheme
from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.agreement import agreement, pairwise_agreement
from coding_pipeline.stats.alpha import (
    ClipResampler,
    alpha_from_counts,
    bootstrap_alpha,
    pairable_counts,
)
from coding_pipeline.stats.bias import coder_bias
from coding_pipeline.stats.gwet import gwet_ac2, weighted_kappa
from coding_pipeline.stats.icc import (
    averaged_raters,
    icc_a1,
    icc_c1_interval,
    icc_oneway,
    spearman_brown,
    variance_icc_forms,
)
from coding_pipeline.stats.variance import VarianceFit, fit_two_way, monte_carlo_intervals

ALPHA_RELIABLE = 0.800  # Krippendorff: rely on the variable
ALPHA_TENTATIVE = 0.667  # tentative conclusions only
SINGLE_FORMS = ("ICC(A,1)", "ICC(C,1)")
ICC_CI_F = "McGraw & Wong (1996) F interval (every clip rated by the same coders)"
ICC_CI_MC = ("Monte Carlo: 10,000 draws from the REML estimates' asymptotic normal "
             "distribution (log variances, inverse Hessian), seeded")
ICC_CI_ONEWAY = "F interval (Shrout & Fleiss 1979, one-way, k0 for unequal numbers)"
KAPPA_CI_METHOD = "Gwet (2014) linearised variance, t with n - 1 df"
DEFAULT_SEED = 0  # without a study; a study's is study.toml [reliability] seed


def band(alpha: float | None) -> str:
    """Krippendorff's bands: >= .800 reliable, .667-.800 tentative, < .667 unreliable."""
    if alpha is None:
        return "undefined"
    if alpha >= ALPHA_RELIABLE:
        return "reliable"
    return "tentative" if alpha >= ALPHA_TENTATIVE else "unreliable"


def icc_band(icc: float | None) -> str:
    """Koo & Li (2016): < .50 poor, .50-.75 moderate, .75-.90 good, > .90 excellent."""
    if icc is None:
        return "undefined"
    if icc > 0.90:
        return "excellent"
    if icc >= 0.75:
        return "good"
    return "moderate" if icc >= 0.50 else "poor"


def rounded(value: float | None) -> float | None:
    """A statistic as stored in the result: 6 decimals, None when undefined or not finite."""
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def rounded_pair(ci) -> list[float | None] | None:
    """An interval as stored in the result (see `rounded`)."""
    return None if ci is None else [rounded(ci[0]), rounded(ci[1])]


def unit_matrix(table: pd.DataFrame, unit: list[str]) -> tuple[np.ndarray, list[str]]:
    """A units x coders float array (NaN = not rated) from rows of `unit`, coder, value."""
    rows = pd.MultiIndex.from_frame(table[unit]) if len(unit) > 1 else pd.Index(table[unit[0]])
    row_codes, _ = pd.factorize(rows, sort=True)
    column_codes, coders = pd.factorize(table["coder"], sort=True)
    matrix = np.full((row_codes.max(initial=-1) + 1, len(coders)), np.nan)
    order = np.arange(len(table))[::-1]  # the first of duplicates is written last
    matrix[row_codes[order], column_codes[order]] = table["value"].to_numpy(float)[order]
    return matrix, [str(c) for c in coders]


def clip_matrix(rows: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """`unit_matrix` by clip, and an empty array for no rows."""
    return unit_matrix(rows, ["clip_id"]) if not rows.empty else (np.empty((0, 0)), [])


def _same_coders_everywhere(matrix: np.ndarray) -> np.ndarray | None:
    """The complete clips x coders matrix when every clip was rated by the same coders."""
    present = ~np.isnan(matrix)
    if (present == present[0]).all():
        return matrix[:, present[0]]
    return None


def twice_rated(matrix: np.ndarray) -> np.ndarray:
    """The clips rated by two or more coders, and the coders who rated any of them."""
    if not matrix.size:
        return np.empty((0, 0))
    twice = matrix[(~np.isnan(matrix)).sum(axis=1) >= 2]
    return twice[:, (~np.isnan(twice)).any(axis=0)]


def averaged_coders(matrix: np.ndarray, policy: str) -> tuple[float, str]:
    """k, the number of coders a clip score averages under the scoring policy, and why."""
    if policy != "mean":
        return 1.0, f"{policy} policy: a clip score is one rating"
    try:
        return averaged_raters(matrix), "mean policy: harmonic mean of the coders per rated clip"
    except UndefinedStatistic:
        return 1.0, "mean policy, no rated clip"


def _fit(twice: np.ndarray, starts: dict) -> VarianceFit:
    """REML of rating = mu + clip + coder + e on the clips rated twice, started from (and
    updating) `starts["two_way"]`."""
    rows, columns = np.nonzero(~np.isnan(twice))
    fit = fit_two_way(twice[rows, columns], rows, columns, starts.get("two_way", ()))
    starts["two_way"] = fit.theta
    return fit


def _single_intervals(twice: np.ndarray, fit: VarianceFit, k: float, seed: int
                      ) -> tuple[dict[str, tuple[float, float]], str]:
    """Intervals of ICC(A,1) and ICC(C,1): McGraw & Wong's F intervals when every clip was
    rated by the same coders, else seeded Monte Carlo intervals of the REML fit."""
    complete = _same_coders_everywhere(twice)
    if complete is not None:
        return {"ICC(A,1)": icc_a1(complete).ci, "ICC(C,1)": icc_c1_interval(complete)}, ICC_CI_F

    def single_forms(drawn: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        forms = variance_icc_forms(drawn, k)
        return {name: forms[name] for name in SINGLE_FORMS}

    return monte_carlo_intervals(fit, single_forms, np.random.default_rng(seed)), ICC_CI_MC


def _icc_forms(values: dict, intervals: dict, method: str | None, k: float, k_basis: str
               ) -> dict[str, dict]:
    """ICC(A,1), ICC(A,k), ICC(C,1), ICC(C,k) with their intervals (the average forms'
    by Spearman-Brown from the single forms')."""
    forms: dict[str, dict] = {}
    for single, average in (("ICC(A,1)", "ICC(A,k)"), ("ICC(C,1)", "ICC(C,k)")):
        ci = intervals[single]
        forms[single] = {"value": rounded(values[single]), "ci": rounded_pair(ci),
                         "ci_method": method if ci else None}
        forms[average] = {
            "value": rounded(values[average]),
            "ci": rounded_pair(None if ci is None else [spearman_brown(b, k) for b in ci]),
            "ci_method": (method + "; Spearman-Brown to k") if ci else None,
            "k": round(k, 4), "k_basis": k_basis}
    return forms


def _oneway_form(twice: np.ndarray) -> dict:
    """The one-way ICC(1) with its F interval, or a reason."""
    try:
        if twice.shape[0] < 2:
            raise UndefinedStatistic("fewer than two clips rated by two or more coders")
        oneway = icc_oneway(twice)
        return {"value": rounded(oneway.value), "ci": rounded_pair(oneway.ci),
                "ci_method": ICC_CI_ONEWAY}
    except UndefinedStatistic as reason:
        return {"value": None, "ci": None, "ci_method": None, "reason": str(reason)}


def icc_statistics(matrix: np.ndarray, k: float, k_basis: str, seed: int = DEFAULT_SEED,
                   starts: dict | None = None) -> tuple[dict, dict, dict, dict[str, str]]:
    """`variance_components`, `icc` (ICC(A,1), the headline), `icc_forms` and reasons for a
    clips x coders array: REML of rating = mu + clip + coder + e on the clips rated by two
    or more coders (see stats.variance.fit_two_way). `starts` carries the last fit's theta
    to the next variable's as its start (and is updated)."""
    starts = {} if starts is None else starts
    twice = twice_rated(matrix)
    components: dict = {"clip": None, "coder": None, "residual": None, "method": "REML"}
    icc: dict = {"form": "ICC(A,1)", "value": None, "ci": None, "ci_method": None}
    forms: dict = {}
    reasons: dict[str, str] = {}
    try:
        if twice.shape[0] < 2:
            raise UndefinedStatistic("fewer than two clips rated by two or more coders")
        fit = _fit(twice, starts)
        components.update({name: rounded(v) for name, v in fit.components.items()})
        components["n_clips"], components["n_ratings"] = int(twice.shape[0]), fit.n_obs
        values = variance_icc_forms(fit.components, k)
        if not np.isfinite(values["ICC(A,1)"]):
            raise UndefinedStatistic("no variance between clips or coders (all ratings alike)")
        try:
            intervals, method = _single_intervals(twice, fit, k, seed)
        except UndefinedStatistic as reason:
            reasons["icc_ci"] = str(reason)
            intervals, method = dict.fromkeys(SINGLE_FORMS), None
        forms.update(_icc_forms(values, intervals, method, k, k_basis))
        icc.update(forms["ICC(A,1)"])
        icc["band"] = icc_band(icc["value"])
        icc["band_lower"] = icc_band(icc["ci"][0] if icc["ci"] else None)
    except UndefinedStatistic as reason:
        icc["reason"] = components["reason"] = reasons["icc"] = str(reason)
    forms["ICC(1)"] = _oneway_form(twice)
    return components, icc, forms, reasons


def _alpha(twice: np.ndarray, level: str, values: np.ndarray | None, bootstrap: int,
           seed: int, alpha_min: float, resampler: ClipResampler | None, too_few: str) -> dict:
    """Krippendorff's alpha of the clips rated twice, with its bootstrap interval, the
    undefined resamples and p_below_min; `reason` when undefined."""
    alpha: dict = {"value": None, "level": level, "ci": None, "resamples": bootstrap,
                   "undefined_resamples": None}
    try:
        if twice.shape[0] < 2:
            raise UndefinedStatistic(too_few)
        pairable = pairable_counts(twice, values)
        alpha["value"] = rounded(alpha_from_counts(pairable, level))
        if bootstrap > 0:
            interval = bootstrap_alpha(pairable, level, bootstrap, seed, resampler=resampler)
            alpha["ci"] = (
                [rounded(interval.low), rounded(interval.high)]
                if interval.low is not None else None
            )
            alpha["undefined_resamples"] = interval.undefined
            if interval.estimates.size:
                alpha["p_below_min"] = rounded((interval.estimates < alpha_min).mean())
            if interval.low is None:
                alpha["ci_reason"] = "too few resamples had any variation"
        else:
            alpha["ci_reason"] = "no bootstrap resamples requested"
    except UndefinedStatistic as reason:
        alpha["reason"] = str(reason)
    return alpha


def _gwet(matrix: np.ndarray, values: np.ndarray | None, weights: str) -> dict:
    """Gwet's AC2 of all rated clips with its standard error and interval; `reason` when
    undefined."""
    gwet: dict = {"value": None, "se": None, "ci": None, "weights": weights,
                  "ci_method": KAPPA_CI_METHOD}
    try:
        found = gwet_ac2(matrix, values, weights)
        gwet.update(value=rounded(found.value), se=rounded(found.se),
                    ci=rounded_pair(found.ci), n_clips=found.n_units)
    except UndefinedStatistic as reason:
        gwet["reason"] = str(reason)
    return gwet


def reliability_entry(
    matrix: np.ndarray, level: str, values: np.ndarray | None,
    bootstrap: int = 1000, seed: int = DEFAULT_SEED, alpha_min: float = ALPHA_RELIABLE,
    resampler: ClipResampler | None = None, k: float = 1.0,
    k_basis: str = "primary policy: a clip score is one rating", ac2_weights: str | None = None,
    starts: dict | None = None,
) -> dict:
    """Alpha (+ bootstrap CI), variance components and ICC forms, exact/within-one agreement,
    Gwet's AC2 (items: `ac2_weights` given), n_clips and n_coders of one units x coders array
    (all rated clips: AC2 counts clips rated once in its category proportions, the other
    statistics use the clips rated by two or more coders). With a bootstrap, alpha also
    carries `p_below_min`: the share of defined resamples with alpha < alpha_min (as Hayes &
    Krippendorff's KALPHA reports the chance of failing to reach a minimum alpha)."""
    matrix = np.asarray(matrix, dtype=float)
    twice = twice_rated(matrix)
    n_clips, n_coders = (int(size) for size in twice.shape)
    reasons: dict[str, str] = {}
    too_few = ("no clip was rated by two or more coders" if n_clips == 0
               else "only one clip was rated by two or more coders")
    alpha = _alpha(twice, level, values, bootstrap, seed, alpha_min, resampler, too_few)
    if "reason" in alpha:
        reasons["alpha"] = alpha["reason"]
    if n_clips >= 2:
        components, icc, forms, icc_reasons = icc_statistics(twice, k, k_basis, seed, starts)
        reasons.update(icc_reasons)
    else:
        components = {"clip": None, "coder": None, "residual": None, "method": "REML",
                      "reason": too_few}
        icc = {"form": "ICC(A,1)", "value": None, "ci": None, "ci_method": None,
               "reason": too_few}
        forms = {}
        reasons["icc"] = too_few
    exact = within_one = None
    try:
        found = pairwise_agreement(twice)
        exact, within_one = rounded(found.exact), rounded(found.within_one)
    except UndefinedStatistic as reason:
        reasons["exact_agreement"] = reasons["within_one_agreement"] = str(reason)
    entry = {
        "alpha": alpha, "icc": icc, "icc_forms": forms, "variance_components": components,
        "exact_agreement": exact, "within_one_agreement": within_one,
        "n_clips": n_clips, "n_coders": n_coders, "band": band(alpha["value"]),
        "band_lower": band((alpha.get("ci") or [None])[0]), "reasons": reasons,
    }
    if ac2_weights is not None:
        entry["gwet_ac2"] = _gwet(matrix, values, ac2_weights)
        if "reason" in entry["gwet_ac2"]:
            reasons["gwet_ac2"] = entry["gwet_ac2"]["reason"]
    return entry


def short_entry(matrix: np.ndarray, level: str, values: np.ndarray | None) -> dict:
    """Alpha (no bootstrap), exact and within-one agreement of one variable, for
    certification and drift."""
    twice = twice_rated(matrix)
    entry: dict = {"alpha": None, "exact_agreement": None, "within_one_agreement": None,
                   "n_clips": int(twice.shape[0]), "reasons": {}}
    try:
        if twice.shape[0] < 2:
            raise UndefinedStatistic("fewer than two clips rated by both")
        entry["alpha"] = rounded(alpha_from_counts(pairable_counts(twice, values), level))
    except UndefinedStatistic as reason:
        entry["reasons"]["alpha"] = str(reason)
    try:
        found = pairwise_agreement(twice)
        entry["exact_agreement"] = rounded(found.exact)
        entry["within_one_agreement"] = rounded(found.within_one)
    except UndefinedStatistic as reason:
        entry["reasons"]["agreement"] = str(reason)
    return entry


def bias_rows(matrix: np.ndarray, coders: list[str], confidence: float = 0.95) -> list[dict]:
    """Per coder: the mean difference from the other coders' mean on the clips shared with
    at least one other coder, with a t interval and n (see stats.bias.coder_bias)."""
    return [{"coder": coders[found.coder], "mean_difference": rounded(found.mean_difference),
             "ci": None if found.ci is None else [rounded(found.ci[0]), rounded(found.ci[1])],
             "n_clips": found.n_units} for found in coder_bias(matrix, confidence)]


def _kappas(rows: pd.DataFrame, categories: list, coders: tuple[str, str], entry: dict) -> None:
    """Quadratic and linear weighted kappa of one coder pair's rows into `entry`."""
    for weights in ("quadratic", "linear"):
        try:
            if entry["n_clips"] < 2:
                raise UndefinedStatistic("only one clip was rated by both coders")
            found = weighted_kappa(rows["first"], rows["second"], np.array(categories),
                                   weights, names=coders)
            entry["weighted_kappa"][weights] = {
                "value": rounded(found.value), "se": rounded(found.se),
                "ci": rounded_pair(found.ci)}
        except UndefinedStatistic as reason:
            entry["weighted_kappa"][weights] = {"value": None, "se": None, "ci": None}
            entry["reasons"]["kappa"] = str(reason)


def pair_entries(table: pd.DataFrame, scheme: Scheme) -> list[dict]:
    """Per coder pair, per item and pooled over items (item null): linear and quadratic
    weighted kappa with Gwet's standard error and a 95% interval (`kappa` = the quadratic
    value), exact and within-one agreement on the clips both rated. Kappa needs two or more
    clips and variation in each coder's ratings (else null with a reason); agreement is a
    share of rating pairs, defined from one pair on."""
    entries = []
    coders = sorted(table["coder"].unique())
    by_coder = {c: rows.set_index(["clip_id", "item"])["value"]
                for c, rows in table.groupby("coder")}
    scopes = [(item.id, item.scale.points) for item in scheme.items]
    scopes.append((None, sorted({p for item in scheme.items for p in item.scale.points})))
    for first, second in combinations(coders, 2):
        both = pd.concat([by_coder[first], by_coder[second]], axis=1, join="inner")
        if both.empty:
            continue
        both.columns = ["first", "second"]
        per_item = dict(iter(both.groupby(level="item")))
        for item_id, categories in scopes:
            rows = both if item_id is None else per_item.get(item_id, both.iloc[0:0])
            if rows.empty:
                continue
            entry: dict = {"coders": [first, second], "item": item_id,
                           "n_clips": int(rows.index.get_level_values("clip_id").nunique()),
                           "reasons": {}, "weighted_kappa": {}}
            _kappas(rows, categories, (first, second), entry)
            entry["kappa"] = entry["weighted_kappa"]["quadratic"]["value"]
            entry["weighted_kappa"]["ci_method"] = KAPPA_CI_METHOD
            found = agreement(rows["first"], rows["second"])
            entry["exact_agreement"] = rounded(found.exact)
            entry["within_one_agreement"] = rounded(found.within_one)
            entries.append(entry)
    return entries
