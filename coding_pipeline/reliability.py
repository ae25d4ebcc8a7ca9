"""Inter-rater reliability of a ratings table: per item, per composite, per coder pair,
coder certification against the master coder, and drift by batch and month.

Which ratings count:
- reliability statistics use independent ratings of study clips (role primary, reliability,
  or no role), on the clips rated by two or more coders;
- certification uses training clips: each trainee (role training) against the master coder
  (role master);
- recertification uses recalibration batches: the coder (role recalibration) against the
  master's own ratings of those clips;
- recalibration flags: each coder against the other coders over the coder's last N
  double-coded study clips (study.toml [reliability] recalibration_clips), judged as in
  certification;
- consensus ratings are not independent and are left out of all of them.

Undefined statistics are null with a reason (`reasons` in each entry, `reason` in alpha/icc).
`compute_reliability` is pure; `reliability_study` reads and writes the study folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from coding_pipeline.batches import load_batches
from coding_pipeline.scheme import Scheme, load_scheme
from coding_pipeline.scores import (
    RELIABILITY_ROLES,
    REQUIRED_RATING_COLUMNS,
    check_ratings,
    coder_composites,
)
from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.agreement import agreement, pairwise_agreement
from coding_pipeline.stats.alpha import (
    ClipResampler,
    alpha_from_counts,
    bootstrap_alpha,
    pairable_counts,
)
from coding_pipeline.stats.gwet import gwet_ac2, weighted_kappa
from coding_pipeline.stats.icc import (
    icc_a1,
    icc_c1_interval,
    icc_oneway,
    spearman_brown,
    variance_icc_forms,
)
from coding_pipeline.stats.variance import fit_sessions, fit_two_way
from coding_pipeline.study import (
    Study,
    read_clips,
    read_table,
    write_csv_atomic,
    write_json_atomic,
)

ALPHA_RELIABLE = 0.800  # Krippendorff: rely on the variable
ALPHA_TENTATIVE = 0.667  # tentative conclusions only


@dataclass(frozen=True)
class CertificationCriteria:
    """When a coder agrees well enough with the master coder (study.toml [certification]):
    within-one agreement >= item_within_one_min on at least items_share_min of the items,
    interval alpha >= composite_alpha_min on every composite, on >= min_clips shared clips."""

    item_within_one_min: float = 0.80
    items_share_min: float = 0.80
    composite_alpha_min: float = 0.70
    min_clips: int = 5

    @classmethod
    def from_config(cls, config) -> CertificationCriteria:
        """The criteria of a StudyConfig."""
        return cls(config.certify_item_within_one_min, config.certify_items_share_min,
                   config.certify_composite_alpha_min, config.certify_min_clips)

    def as_dict(self) -> dict:
        return asdict(self)

    def judge(self, items: dict[str, dict], composites: dict[str, dict], n_clips: int
              ) -> tuple[bool, list[str]]:
        """Pass or fail with the reasons, from per-item entries (`within_one_agreement`) and
        per-composite entries (`alpha` value) of one coder against the master."""
        reasons = []
        if n_clips < self.min_clips:
            reasons.append(f"{n_clips} shared clips (at least {self.min_clips} needed)")
        passing = [i for i, e in items.items()
                   if (e.get("within_one_agreement") or 0) >= self.item_within_one_min]
        share = len(passing) / len(items) if items else 0.0
        if share < self.items_share_min:
            failing = [i for i in items if i not in passing]
            reasons.append(
                f"within-one >= {self.item_within_one_min:.0%} on {len(passing)} of "
                f"{len(items)} items ({share:.0%}; {self.items_share_min:.0%} needed; below: "
                f"{', '.join(failing)})")
        for name, entry in composites.items():
            value = entry.get("alpha")
            value = value.get("value") if isinstance(value, dict) else value
            if value is None or value < self.composite_alpha_min:
                shown = "undefined" if value is None else f"{value:.3f}"
                reasons.append(f"{name} alpha {shown} (at least "
                               f"{self.composite_alpha_min:.2f} needed)")
        return not reasons, reasons


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


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def _pair(ci) -> list[float | None] | None:
    return None if ci is None else [_round(ci[0]), _round(ci[1])]


def unit_matrix(table: pd.DataFrame, unit: list[str]) -> tuple[np.ndarray, list[str]]:
    """A units x coders float array (NaN = not rated) from rows of `unit`, coder, value."""
    rows = pd.MultiIndex.from_frame(table[unit]) if len(unit) > 1 else pd.Index(table[unit[0]])
    row_codes, _ = pd.factorize(rows, sort=True)
    column_codes, coders = pd.factorize(table["coder"], sort=True)
    matrix = np.full((row_codes.max(initial=-1) + 1, len(coders)), np.nan)
    order = np.arange(len(table))[::-1]  # the first of duplicates is written last
    matrix[row_codes[order], column_codes[order]] = table["value"].to_numpy(float)[order]
    return matrix, [str(c) for c in coders]


def _same_coders_everywhere(matrix: np.ndarray) -> np.ndarray | None:
    """The complete clips x coders matrix when every clip was rated by the same coders."""
    present = ~np.isnan(matrix)
    if (present == present[0]).all():
        return matrix[:, present[0]]
    return None


def _twice(matrix: np.ndarray) -> np.ndarray:
    """The clips rated by two or more coders, and the coders who rated any of them."""
    twice = matrix[(~np.isnan(matrix)).sum(axis=1) >= 2]
    return twice[:, (~np.isnan(twice)).any(axis=0)]


def averaged_coders(matrix: np.ndarray, policy: str) -> tuple[float, str]:
    """k, the number of coders a clip score averages under the scoring policy, and why."""
    if policy != "mean":
        return 1.0, f"{policy} policy: a clip score is one rating"
    counts = (~np.isnan(matrix)).sum(axis=1)
    counts = counts[counts > 0]
    if counts.size == 0:
        return 1.0, "mean policy, no rated clip"
    k = float(counts.size / (1.0 / counts).sum())
    return k, "mean policy: harmonic mean of the coders per rated clip"


ICC_CI_F = "McGraw & Wong (1996) F interval (every clip rated by the same coders)"
ICC_CI_MC = ("Monte Carlo: 10,000 draws from the REML estimates' asymptotic normal "
             "distribution (log variances, inverse Hessian), seeded")
ICC_CI_ONEWAY = "F interval (Shrout & Fleiss 1979, one-way, k0 for unequal numbers)"


def icc_statistics(matrix: np.ndarray, k: float, k_basis: str, seed: int = 0,
                   starts: dict | None = None) -> tuple[dict, dict, dict, dict[str, str]]:
    """`variance_components`, `icc` (ICC(A,1), the headline), `icc_forms` and reasons for a
    clips x coders array: REML of rating = mu + clip + coder + e on the clips rated by two
    or more coders (see stats.variance.fit_two_way). `starts` carries the last fit's theta
    to the next variable's as its start (and is updated)."""
    starts = {} if starts is None else starts
    twice = _twice(matrix)
    components: dict = {"clip": None, "coder": None, "residual": None, "method": "REML"}
    icc: dict = {"form": "ICC(A,1)", "value": None, "ci": None, "ci_method": None}
    forms: dict = {}
    reasons: dict[str, str] = {}
    present = ~np.isnan(twice)
    try:
        if twice.shape[0] < 2:
            raise UndefinedStatistic("fewer than two clips rated by two or more coders")
        rows, columns = np.nonzero(present)
        fit = fit_two_way(twice[rows, columns], rows, columns, starts.get("two_way", ()))
        starts["two_way"] = fit.theta
        components.update({name: _round(v) for name, v in fit.components.items()})
        components["n_clips"], components["n_ratings"] = int(twice.shape[0]), fit.n_obs
        values = variance_icc_forms(fit.components, k)
        if not np.isfinite(values["ICC(A,1)"]):
            raise UndefinedStatistic("no variance between clips or coders (all ratings alike)")
        complete = _same_coders_everywhere(twice)
        intervals: dict[str, tuple[float, float] | None] = {}
        method = ICC_CI_F if complete is not None else ICC_CI_MC
        try:
            if complete is not None:
                intervals["ICC(A,1)"] = icc_a1(complete).ci
                intervals["ICC(C,1)"] = icc_c1_interval(complete)
            else:
                draws = fit.draws(10_000, np.random.default_rng(seed))
                drawn = variance_icc_forms(draws, k)
                for name in ("ICC(A,1)", "ICC(C,1)"):
                    finite = drawn[name][np.isfinite(drawn[name])]
                    intervals[name] = tuple(np.percentile(finite, [2.5, 97.5]))
        except UndefinedStatistic as reason:
            reasons["icc_ci"] = str(reason)
            intervals = {"ICC(A,1)": None, "ICC(C,1)": None}
        for single, average in (("ICC(A,1)", "ICC(A,k)"), ("ICC(C,1)", "ICC(C,k)")):
            ci = intervals[single]
            forms[single] = {"value": _round(values[single]), "ci": _pair(ci),
                             "ci_method": method if ci else None}
            forms[average] = {
                "value": _round(values[average]),
                "ci": _pair(None if ci is None else [spearman_brown(b, k) for b in ci]),
                "ci_method": (method + "; Spearman-Brown to k") if ci else None,
                "k": round(k, 4), "k_basis": k_basis}
        icc.update(forms["ICC(A,1)"])
        icc["band"] = icc_band(icc["value"])
        icc["band_lower"] = icc_band(icc["ci"][0] if icc["ci"] else None)
    except UndefinedStatistic as reason:
        icc["reason"] = components["reason"] = reasons["icc"] = str(reason)
    try:
        if twice.shape[0] < 2:
            raise UndefinedStatistic("fewer than two clips rated by two or more coders")
        oneway = icc_oneway(twice)
        forms["ICC(1)"] = {"value": _round(oneway.value), "ci": _pair(oneway.ci),
                           "ci_method": ICC_CI_ONEWAY}
    except UndefinedStatistic as reason:
        forms["ICC(1)"] = {"value": None, "ci": None, "ci_method": None, "reason": str(reason)}
    return components, icc, forms, reasons


def reliability_entry(
    matrix: np.ndarray, level: str, values: np.ndarray | None,
    bootstrap: int = 1000, seed: int = 0, alpha_min: float = ALPHA_RELIABLE,
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
    twice = _twice(matrix) if matrix.size else np.empty((0, 0))
    n_clips, n_coders = (int(size) for size in twice.shape)
    reasons: dict[str, str] = {}
    too_few = ("no clip was rated by two or more coders" if n_clips == 0
               else "only one clip was rated by two or more coders")
    alpha: dict = {"value": None, "level": level, "ci": None, "resamples": bootstrap,
                   "undefined_resamples": None}
    try:
        if n_clips < 2:
            raise UndefinedStatistic(too_few)
        pairable = pairable_counts(twice, values)
        alpha["value"] = _round(alpha_from_counts(pairable, level))
        if bootstrap > 0:
            interval = bootstrap_alpha(pairable, level, bootstrap, seed, resampler=resampler)
            alpha["ci"] = (
                [_round(interval.low), _round(interval.high)] if interval.low is not None else None
            )
            alpha["undefined_resamples"] = interval.undefined
            if interval.estimates.size:
                alpha["p_below_min"] = _round((interval.estimates < alpha_min).mean())
            if interval.low is None:
                alpha["ci_reason"] = "too few resamples had any variation"
        else:
            alpha["ci_reason"] = "no bootstrap resamples requested"
    except UndefinedStatistic as reason:
        alpha["reason"] = reasons["alpha"] = str(reason)
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
        exact, within_one = _round(found.exact), _round(found.within_one)
    except UndefinedStatistic as reason:
        reasons["exact_agreement"] = reasons["within_one_agreement"] = str(reason)
    entry = {
        "alpha": alpha, "icc": icc, "icc_forms": forms, "variance_components": components,
        "exact_agreement": exact, "within_one_agreement": within_one,
        "n_clips": n_clips, "n_coders": n_coders, "band": band(alpha["value"]),
        "band_lower": band((alpha.get("ci") or [None])[0]), "reasons": reasons,
    }
    if ac2_weights is not None:
        gwet: dict = {"value": None, "se": None, "ci": None, "weights": ac2_weights,
                      "ci_method": "Gwet (2014) linearised variance, t with n - 1 df"}
        try:
            found_ac2 = gwet_ac2(matrix, values, ac2_weights)
            gwet.update(value=_round(found_ac2.value), se=_round(found_ac2.se),
                        ci=_pair(found_ac2.ci), n_clips=found_ac2.n_units)
        except UndefinedStatistic as reason:
            gwet["reason"] = reasons["gwet_ac2"] = str(reason)
        entry["gwet_ac2"] = gwet
    return entry


def coder_bias(matrix: np.ndarray, coders: list[str], confidence: float = 0.95) -> list[dict]:
    """Per coder: the mean difference between the coder's rating and the mean of the other
    coders' ratings of the same clip, over the clips shared with at least one other coder,
    with a t interval and n."""
    rows = []
    present = ~np.isnan(matrix)
    totals = np.where(present, matrix, 0.0).sum(axis=1)
    counts = present.sum(axis=1)
    for column, coder in enumerate(coders):
        shared = present[:, column] & (counts >= 2)
        n = int(shared.sum())
        if n == 0:
            continue
        own = matrix[shared, column]
        others = (totals[shared] - own) / (counts[shared] - 1)
        difference = own - others
        mean = float(difference.mean())
        ci = None
        if n >= 2:
            half = scipy_stats.t.ppf(1 - (1 - confidence) / 2, n - 1) * difference.std(
                ddof=1) / np.sqrt(n)
            ci = [_round(mean - half), _round(mean + half)]
        rows.append({"coder": coder, "mean_difference": _round(mean), "ci": ci, "n_clips": n})
    return rows


def _pair_entries(table: pd.DataFrame, scheme: Scheme) -> list[dict]:
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
            for weights in ("quadratic", "linear"):
                try:
                    if entry["n_clips"] < 2:
                        raise UndefinedStatistic("only one clip was rated by both coders")
                    found = weighted_kappa(rows["first"], rows["second"], np.array(categories),
                                           weights, names=(first, second))
                    entry["weighted_kappa"][weights] = {
                        "value": _round(found.value), "se": _round(found.se),
                        "ci": _pair(found.ci)}
                except UndefinedStatistic as reason:
                    entry["weighted_kappa"][weights] = {"value": None, "se": None, "ci": None}
                    entry["reasons"]["kappa"] = str(reason)
            entry["kappa"] = entry["weighted_kappa"]["quadratic"]["value"]
            entry["weighted_kappa"]["ci_method"] = ("Gwet (2014) linearised variance, t with "
                                                    "n - 1 df")
            found = agreement(rows["first"], rows["second"])
            entry["exact_agreement"] = _round(found.exact)
            entry["within_one_agreement"] = _round(found.within_one)
            entries.append(entry)
    return entries


def _short_entry(matrix: np.ndarray, level: str, values: np.ndarray | None) -> dict:
    """Alpha (no bootstrap), exact and within-one agreement of one variable, for
    certification and drift."""
    twice = _twice(matrix) if matrix.size else np.empty((0, 0))
    entry: dict = {"alpha": None, "exact_agreement": None, "within_one_agreement": None,
                   "n_clips": int(twice.shape[0]), "reasons": {}}
    try:
        if twice.shape[0] < 2:
            raise UndefinedStatistic("fewer than two clips rated by both")
        entry["alpha"] = _round(alpha_from_counts(pairable_counts(twice, values), level))
    except UndefinedStatistic as reason:
        entry["reasons"]["alpha"] = str(reason)
    try:
        found = pairwise_agreement(twice)
        entry["exact_agreement"] = _round(found.exact)
        entry["within_one_agreement"] = _round(found.within_one)
    except UndefinedStatistic as reason:
        entry["reasons"]["agreement"] = str(reason)
    return entry


def _per_variable(table: pd.DataFrame, scheme: Scheme, min_item_share: float,
                  composite_table: pd.DataFrame | None = None,
                  ) -> tuple[dict[str, dict], dict[str, dict]]:
    """`_short_entry` per item (ordinal alpha) and per composite (interval alpha); the
    coders' composites are computed from `table` unless given."""
    items = {}
    by_item = dict(iter(table.groupby("item")))
    for item in scheme.items:
        rows = by_item.get(item.id, table.iloc[0:0])
        matrix = unit_matrix(rows, ["clip_id"])[0] if not rows.empty else np.empty((0, 0))
        items[item.id] = _short_entry(matrix, "ordinal", np.array(item.scale.points, float))
    if composite_table is None:
        composite_table = coder_composites(table, scheme, min_item_share).dropna(
            subset=["value"])
    by_composite = dict(iter(composite_table.groupby("composite")))
    composites = {}
    for composite in scheme.composites:
        rows = by_composite.get(composite.id, composite_table.iloc[0:0])
        matrix = unit_matrix(rows, ["clip_id"])[0] if not rows.empty else np.empty((0, 0))
        composites[composite.id] = _short_entry(matrix, "interval", None)
    return items, composites


def agreement_with(
    ratings: pd.DataFrame, reference: pd.DataFrame, scheme: Scheme,
    criteria: CertificationCriteria, min_item_share: float = 0.75,
) -> dict:
    """One coder's ratings against reference ratings (coder column constant: the master, or
    the other coders) on the clips and items both rated, per item and per composite
    (`_per_variable`), judged by `criteria` (study.toml [certification]): status pass or fail,
    with reasons. `alpha` (ordinal) and `within_one_agreement` over all items at once (each
    clip x item a unit) are a one-line summary beside that judgement, never the judgement.
    The one place certification, recertification and the recalibration flags are judged."""
    shared = ratings.merge(reference[["clip_id", "item"]], on=["clip_id", "item"])
    paired = pd.concat([shared, reference.merge(
        shared[["clip_id", "item"]], on=["clip_id", "item"])])
    items, composites = _per_variable(paired, scheme, min_item_share)
    n_clips = int(shared["clip_id"].nunique())
    passed, reasons = criteria.judge(items, composites, n_clips)
    points = np.array(sorted({p for item in scheme.items for p in item.scale.points}), float)
    matrix = (unit_matrix(paired, ["clip_id", "item"])[0] if not paired.empty
              else np.empty((0, 0)))
    summary = _short_entry(matrix, "ordinal", points)
    return {
        "n_clips": n_clips, "items": items, "composites": composites,
        "items_passing": sum((e["within_one_agreement"] or 0)
                             >= criteria.item_within_one_min for e in items.values()),
        "criteria": criteria.as_dict(), "status": "pass" if passed else "fail",
        "reasons": reasons, "alpha": summary["alpha"],
        "within_one_agreement": summary["within_one_agreement"],
    }


def _date(stamps: pd.Series) -> str | None:
    latest = stamps.max() if stamps.notna().any() else None
    return None if latest is None else latest.strftime("%Y-%m-%d")


def certification(
    clean: pd.DataFrame, scheme: Scheme, criteria: CertificationCriteria | None = None,
    min_item_share: float = 0.75,
) -> list[dict]:
    """Each trainee against the master coder on the training clips both rated, per item
    (ordinal alpha, within-one and exact agreement) and per composite (interval alpha),
    judged by `criteria` (study.toml [certification]): status pass or fail, with reasons, and
    the date of the trainee's last training rating."""
    criteria = criteria or CertificationCriteria()
    masters = clean[clean["role"] == "master"]
    trainees = clean[clean["role"] == "training"]
    results = []
    master_ratings = masters.sort_values("coder").drop_duplicates(["clip_id", "item"])
    master_ratings = master_ratings.assign(coder="master")
    for coder, ratings in trainees.groupby("coder", sort=True):
        entry = agreement_with(ratings, master_ratings, scheme, criteria, min_item_share)
        results.append({
            "coder": coder, "master": ", ".join(sorted(masters["coder"].unique())),
            "kind": "certification", "batch": ", ".join(sorted(set(ratings["batch"]))),
            "date": _date(ratings["rated_at"]), **entry,
        })
    return results


def recertification(
    clean: pd.DataFrame, scheme: Scheme, masters: dict[str, str],
    criteria: CertificationCriteria | None = None, min_item_share: float = 0.75,
) -> list[dict]:
    """Each recalibration batch (role recalibration; `masters`: batch -> master coder): the
    coder against the master's own ratings of those clips (training or study, the latest),
    judged as certification is, with the date of the coder's last rating in the batch."""
    criteria = criteria or CertificationCriteria()
    recalibrating = clean[clean["role"] == "recalibration"]
    reference_roles = ("master", *RELIABILITY_ROLES)
    results = []
    for (batch, coder), ratings in recalibrating.groupby(["batch", "coder"], sort=True):
        master = masters.get(batch)
        reference = clean[(clean["coder"] == master) & clean["role"].isin(reference_roles)]
        reference = reference.sort_values(["rated_at", "line"], na_position="first")
        reference = reference.drop_duplicates(["clip_id", "item"], keep="last")
        # a recalibration set is as large as the lab manager made it (batch create --clips)
        sized = CertificationCriteria(**{**criteria.as_dict(), "min_clips": min(
            criteria.min_clips, int(ratings["clip_id"].nunique()))})
        entry = agreement_with(ratings, reference.assign(coder="master"), scheme, sized,
                               min_item_share)
        results.append({
            "coder": coder, "master": master or "", "kind": "recertification", "batch": batch,
            "date": _date(ratings["rated_at"]), **entry,
        })
    return results


def recalibration_flags(
    clean: pd.DataFrame, scheme: Scheme, last_clips: int = 10,
    criteria: CertificationCriteria | None = None, min_item_share: float = 0.75,
) -> list[dict]:
    """Each coder against the other coders over the coder's last `last_clips` double-coded
    study clips (by the coder's rating time), judged by the certification criteria: status
    `ok`, `recalibrate` (below the criteria, with the reasons) or `too few clips` (fewer than
    two). `alpha` and `within_one_agreement` summarise all items at once."""
    criteria = criteria or CertificationCriteria()
    study = clean[clean["role"].isin(RELIABILITY_ROLES)]
    coders_per_clip = study.groupby("clip_id")["coder"].nunique()
    double = study[study["clip_id"].isin(coders_per_clip.index[coders_per_clip >= 2])]
    flags = []
    for coder, mine in double.groupby("coder", sort=True):
        when = mine.groupby("clip_id")["rated_at"].min().sort_values(na_position="first")
        last = set(when.index[-last_clips:])
        own = mine[mine["clip_id"].isin(last)]
        others = double[(double["coder"] != coder) & double["clip_id"].isin(last)]
        others = others.sort_values("coder").drop_duplicates(["clip_id", "item"])
        window = CertificationCriteria(**{**criteria.as_dict(), "min_clips": 2})
        entry = agreement_with(own, others.assign(coder="others"), scheme, window,
                               min_item_share)
        status = ("too few clips" if entry["n_clips"] < 2
                  else "ok" if entry["status"] == "pass" else "recalibrate")
        flags.append({"coder": coder, "last_clips": last_clips, **entry,
                      "status": status, "until": _date(own["rated_at"])})
    return flags


def drift(clean: pd.DataFrame, scheme: Scheme, min_item_share: float = 0.75,
          composite_table: pd.DataFrame | None = None) -> dict[str, list[dict]]:
    """Per batch and per month of annotation, each item's and composite's statistics (never
    pooled over items), and their means over items. A clip belongs to the batch and month of
    its last rating (when its double-coding was complete). `composite_table`: the coders'
    composites of the independent ratings, when already computed."""
    table = clean[clean["role"].isin(RELIABILITY_ROLES)]
    last = table.sort_values(["rated_at", "line"], na_position="first").groupby("clip_id").last()
    groups = {
        "by_batch": last["batch"].replace("", np.nan),
        "by_month": last["rated_at"].dt.strftime("%Y-%m") if last["rated_at"].notna().any()
        else pd.Series(np.nan, index=last.index),
    }
    if composite_table is None:
        composite_table = coder_composites(table, scheme, min_item_share).dropna(
            subset=["value"])
    result: dict[str, list[dict]] = {}
    for name, labels in groups.items():
        rows = []
        for label, clip_ids in labels.dropna().groupby(labels.dropna()).groups.items():
            subset = table[table["clip_id"].isin(clip_ids)]
            coders_per_clip = subset.groupby("clip_id")["coder"].nunique()
            n_clips = int((coders_per_clip >= 2).sum())
            if n_clips == 0:
                continue
            items, composites = _per_variable(
                subset, scheme, min_item_share,
                composite_table[composite_table["clip_id"].isin(clip_ids)])
            rows.append({
                "group": str(label), "n_clips": n_clips,
                "n_coders": int(subset.loc[subset["clip_id"].isin(
                    coders_per_clip.index[coders_per_clip >= 2]), "coder"].nunique()),
                "mean_item_alpha": _mean([e["alpha"] for e in items.values()]),
                "mean_item_within_one_agreement": _mean(
                    [e["within_one_agreement"] for e in items.values()]),
                "items": items, "composites": composites,
            })
        result[name] = rows
    return result


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return _round(float(np.mean(defined))) if defined else None


D_STUDY_CLIPS = range(1, 13)
D_STUDY_CODERS = (1, 2, 3)


def g_coefficients(components: dict[str, float], n: float, k: float) -> tuple[float, float]:
    """Relative G and absolute Phi of a session score averaged over n clips, each rated by
    k coders, in the design (c:s) x r (Brennan 2001):
        G   = s / (s + c:s / n + sr / k + e / (n k))
        Phi = s / (s + c:s / n + r / k + sr / k + e / (n k))"""
    s, cs = components["session"], components["clip_in_session"]
    r, sr, e = components["coder"], components["session_x_coder"], components["residual"]
    relative = cs / n + sr / k + e / (n * k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(s / (s + relative)), float(s / (s + relative + r / k))


def d_study(rows: pd.DataFrame, sessions: pd.Series, k: float, g_min: float,
            starts: dict | None = None) -> dict:
    """The D-study of one composite's session score from every rated clip: REML components
    of (c:s) x r, the study's design (harmonic mean of scored clips per session; k), G and
    Phi for it, the table over n = 1..12 clips and k = 1..3 coders, and the smallest n
    reaching G >= g_min with one and with two coders per clip."""
    rated = rows.assign(session=rows["clip_id"].map(sessions)).dropna(subset=["session"])
    starts = {} if starts is None else starts
    if "sessions" not in starts and "two_way" in starts:  # split the clip variance in two
        clip, coder = starts["two_way"]
        starts["sessions"] = (0.7 * clip, 0.7 * clip, coder, 0.1 * clip)
    fit = fit_sessions(rated["value"].to_numpy(float), rated["session"].to_numpy(),
                       rated["clip_id"].to_numpy(), rated["coder"].to_numpy(),
                       starts.get("sessions", ()))
    starts["sessions"] = fit.theta
    components = fit.components
    per_session = rated.groupby("session")["clip_id"].nunique()
    n_design = float(per_session.size / (1.0 / per_session).sum())
    g, phi = g_coefficients(components, n_design, k)
    table = []
    for coders in D_STUDY_CODERS:
        for clips in D_STUDY_CLIPS:
            g_value, phi_value = g_coefficients(components, clips, coders)
            table.append({"clips_per_session": clips, "coders_per_clip": coders,
                          "g": _round(g_value), "phi": _round(phi_value)})
    needed = []
    for coders in (1, 2):
        reached = next((n for n in range(1, 201)
                        if g_coefficients(components, n, coders)[0] >= g_min), None)
        needed.append({"coders_per_clip": coders, "clips_per_session": reached,
                       "g_min": g_min})
    return {
        "components": {name: _round(value) for name, value in components.items()}
        | {"method": "REML"},
        "design": {"clips_per_session": round(n_design, 4), "coders_per_clip": round(k, 4),
                   "clips_per_session_basis": "harmonic mean of scored clips per session",
                   "n_sessions": int(per_session.size), "n_clips": int(rated["clip_id"].nunique()),
                   "n_ratings": fit.n_obs},
        "g": _round(g), "phi": _round(phi), "table": table, "needed": needed,
    }


def _sessions_of(clips: pd.DataFrame | None) -> pd.Series | None:
    """clip_id -> session (dyad_id and timepoint) from a clip key."""
    if clips is None or clips.empty:
        return None
    keyed = clips.drop_duplicates("clip_id").set_index("clip_id")
    return keyed["dyad_id"].astype(str) + " / " + keyed["timepoint"].astype(str)


def compute_reliability(
    ratings: pd.DataFrame, scheme: Scheme, bootstrap: int = 1000, seed: int = 0,
    min_item_share: float = 0.75, alpha_min: float = 0.80, within_one_min: float = 0.85,
    source: str = "ratings", clip_policy: str = "primary", ac2_weights: str = "quadratic",
    criteria: CertificationCriteria | None = None, clips: pd.DataFrame | None = None,
    last_clips: int = 10, recalibration_masters: dict[str, str] | None = None,
) -> dict:
    """Reliability of a ratings table (clip_id, coder, item, value [, role, batch, status,
    created_at, updated_at]) under a scheme:

        {"items": {id: ENTRY}, "composites": {id: ENTRY}, "pairs": [...], "bias": {...},
         "d_study": {composite: ...}, "certification": [...], "recalibration": [...],
         "drift": {"by_batch": [...], "by_month": [...]}, "methods_text": "...",
         "warnings": [...], ...}

    Items: ordinal alpha over the scale points and Gwet's AC2 (`ac2_weights`); composites (a
    coder's mean of reverse-keyed items, see scores.coder_composites): interval alpha. Every
    entry has REML variance components and the ICC forms (ICC(A,k) and ICC(C,k) with the k
    `clip_policy` averages). With a clip key `clips` (clip_id, dyad_id, timepoint), the
    D-study of each composite's session score. Bootstrap resamples clips, seeded.
    """
    clean, warnings = check_ratings(ratings, scheme, source=source)
    independent = clean[clean["role"].isin(RELIABILITY_ROLES)]
    by_item = {item_id: rows for item_id, rows in independent.groupby("item")}
    resampler = ClipResampler(bootstrap, seed)
    items, bias = {}, {}
    starts: dict = {}  # each REML fit starts from the previous variable's estimates
    for item in scheme.items:
        rows = by_item.get(item.id, independent.iloc[0:0])
        matrix, coders = (unit_matrix(rows, ["clip_id"]) if not rows.empty
                          else (np.empty((0, 0)), []))
        k, basis = averaged_coders(matrix, clip_policy)
        items[item.id] = reliability_entry(
            matrix, "ordinal", np.array(item.scale.points, dtype=float), bootstrap, seed,
            alpha_min, resampler, k, basis, ac2_weights, starts,
        )
        bias[item.id] = coder_bias(matrix, coders)
    composite_table = coder_composites(independent, scheme, min_item_share).dropna(
        subset=["value"])
    sessions = _sessions_of(clips)
    composites, studies = {}, {}
    for composite in scheme.composites:
        rows = composite_table[composite_table["composite"] == composite.id]
        matrix, coders = (unit_matrix(rows, ["clip_id"]) if not rows.empty
                          else (np.empty((0, 0)), []))
        k, basis = averaged_coders(matrix, clip_policy)
        composites[composite.id] = reliability_entry(
            matrix, "interval", None, bootstrap, seed, alpha_min, resampler, k, basis,
            starts=starts,
        )
        bias[composite.id] = coder_bias(matrix, coders)
        if sessions is not None:
            try:
                studies[composite.id] = d_study(rows, sessions, k, alpha_min, starts)
            except UndefinedStatistic as reason:
                studies[composite.id] = {"reason": str(reason)}
    clips_rated = independent.groupby("clip_id")["coder"].nunique()
    result = {
        "scheme": {"name": scheme.name, "version": scheme.version},
        "settings": {"bootstrap": bootstrap, "seed": seed, "min_item_share": min_item_share,
                     "alpha_min": alpha_min, "within_one_min": within_one_min,
                     "confidence": 0.95, "clip_policy": clip_policy, "ac2_weights": ac2_weights,
                     "resampling": "clips with replacement, the same draws for every variable "
                                   "rated on the same clips"},
        "n_ratings": int(len(independent)),
        "n_clips": int(clips_rated.size),
        "n_clips_double_coded": int((clips_rated >= 2).sum()),
        "n_coders": int(independent["coder"].nunique()),
        "items": items,
        "composites": composites,
        "pairs": _pair_entries(independent, scheme),
        "bias": bias,
        "d_study": studies,
        "certification": certification(clean, scheme, criteria, min_item_share)
        + recertification(clean, scheme, recalibration_masters or {}, criteria, min_item_share),
        "recalibration": recalibration_flags(clean, scheme, last_clips, criteria,
                                             min_item_share),
        "drift": drift(clean, scheme, min_item_share, composite_table),
        "software": software_versions(),
        "warnings": warnings,
    }
    if sessions is None:
        result["d_study_reason"] = ("clip-to-session membership unknown: run in a study folder "
                                    "or give --clips CLIPS.csv (clip_id, dyad_id, timepoint)")
    result["methods_text"] = methods_text(result, scheme)
    return result


def software_versions() -> dict[str, str]:
    """The versions that computed the statistics."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("coding-pipeline", "numpy", "scipy", "pandas"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


def _design_sentence(result: dict) -> str:
    total, double = result["n_clips"], result["n_clips_double_coded"]
    share = f" ({100 * double / total:.0f}%)" if total else ""
    sizes = {e["n_coders"] for e in result["items"].values() if e["n_clips"]}
    complete = all(e["icc"].get("ci_method") == ICC_CI_F
                   for e in result["items"].values() if e["icc"].get("value") is not None)
    design = ("every double-coded clip was rated by the same coders (fully crossed)" if complete
              else "double-coded clips were rated by differing subsets of coders (an incomplete "
                   "design)")
    return (f"{result['n_coders']} coders rated {total} clips; {double}{share} were coded "
            f"independently by two or more coders ({max(sizes, default=0)} coders among them); "
            f"{design}.")


def methods_text(result: dict, scheme: Scheme) -> str:
    """A paragraph for a methods section: coders, clips double-coded, design, statistics and
    their forms, intervals, software and versions."""
    settings = result["settings"]
    first = next((e for e in result["composites"].values()
                  if e["icc_forms"].get("ICC(A,k)")), None) or next(
        (e for e in result["items"].values() if e["icc_forms"].get("ICC(A,k)")), None)
    k_text = (f"ICC(A,k) and ICC(C,k) for the k = {first['icc_forms']['ICC(A,k)']['k']:g} "
              f"coder(s) a clip score averages ({first['icc_forms']['ICC(A,k)']['k_basis']})"
              if first else "ICC(A,k) and ICC(C,k)")
    versions = result["software"]
    parts = [
        f"Ratings were made on the {scheme.name} coding scheme (version {scheme.version}).",
        _design_sentence(result),
        "Inter-rater reliability was estimated per item and per composite (the mean of its "
        "items after reverse-keying) on the double-coded clips. Krippendorff's alpha (ordinal "
        "for items, interval for composites) is reported with a 95% percentile bootstrap "
        f"interval from {settings['bootstrap']} resamples of clips (seed {settings['seed']}).",
        "Intraclass correlations were computed from the variance components (clip, coder, "
        "residual) of a two-way random-effects model, rating = mean + clip + coder + error, "
        "estimated by restricted maximum likelihood (REML) on all double-coded clips, as "
        "ten Hove, Jorgensen and van der Ark (2022) recommend for incomplete designs: the "
        "headline ICC(A,1) (absolute agreement of a single coder, McGraw & Wong 1996; equal "
        f"to Shrout & Fleiss ICC(2,1) on complete data), ICC(C,1) (consistency), {k_text}, "
        "and the one-way ICC(1). ICC intervals are McGraw and Wong's F intervals when every "
        "clip was rated by the same coders, otherwise Monte Carlo intervals from the REML "
        "estimates' asymptotic distribution.",
        f"Gwet's AC2 with {settings['ac2_weights']} weights (Gwet 2014) is reported per item "
        "with its linearised standard error, and linear and quadratic weighted kappa per coder "
        "pair with Gwet's standard error; exact and within-one-point agreement are the shares "
        "of coder pairs agreeing exactly or within one scale point.",
    ]
    studies = {name: d for name, d in result.get("d_study", {}).items() if "g" in d}
    if studies:
        example = next(iter(studies.values()))["design"]
        parts.append(
            "The reliability of the analysed session scores (dyad x timepoint means over "
            "clips) was estimated by a generalizability study of the design clips nested in "
            "sessions, crossed with coders ((c:s) x r; Brennan 2001; REML components session, "
            "clip within session, coder, session x coder, residual), with G and Phi for the "
            f"study's design ({example['clips_per_session']:g} clips per session, "
            f"{example['coders_per_clip']:g} coder(s) per clip): "
            + "; ".join(f"{name} G = {d['g']:.2f}, Phi = {d['phi']:.2f}"
                        for name, d in studies.items()) + ".")
    parts.append(
        f"Computed with coding-pipeline {versions['coding-pipeline']} (Python "
        f"{versions['python']}, NumPy {versions['numpy']}, SciPy {versions['scipy']}, pandas "
        f"{versions['pandas']}).")
    return " ".join(parts)


# ---------------------------------------------------------------- presentation


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _rows(result: dict):
    for kind in ("items", "composites"):
        for name, entry in result.get(kind, {}).items():
            yield kind[:-1], name, entry


def format_table(result: dict) -> str:
    """A plain-text reliability table: one line per item and composite."""
    header = (f"{'item / composite':<32} {'alpha':>6} {'95% CI':<15} {'ICC(A,1)':<18} "
              f"{'AC2':>5} {'exact':>5} {'+-1':>5} {'clips':>5} {'coders':>6}  band")
    lines = [header, "-" * len(header)]
    previous_kind = "item"
    for kind, name, entry in _rows(result):
        if kind != previous_kind:
            lines.append("")
            previous_kind = kind
        alpha = entry["alpha"]
        ci = alpha.get("ci")
        ci_text = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "-"
        icc = entry["icc"]
        icc_ci = icc.get("ci")
        icc_text = ("-" if icc.get("value") is None else f"{icc['value']:.2f}" + (
            f" [{icc_ci[0]:.2f}, {icc_ci[1]:.2f}]" if icc_ci else ""))
        ac2 = entry.get("gwet_ac2", {}).get("value")
        ac2_text = "" if "gwet_ac2" not in entry else _number(ac2)[:5]
        label = name if kind == "item" else f"{name} (composite)"
        lines.append(
            f"{label:<32} {_number(alpha['value']):>6} {ci_text:<15} {icc_text:<18} "
            f"{ac2_text:>5} {_percent(entry['exact_agreement']):>5} "
            f"{_percent(entry['within_one_agreement']):>5} "
            f"{entry['n_clips']:>5} {entry['n_coders']:>6}  {entry['band']} "
            f"(lower bound: {entry.get('band_lower', 'undefined')})"
        )
    not_computed: dict[str, list[str]] = {}
    for _, name, entry in _rows(result):
        for why in dict.fromkeys(entry["reasons"].values()):
            not_computed.setdefault(why, []).append(name)
    if not_computed:
        lines += ["", "Not computed:"] + [f"  {why}: {', '.join(names)}"
                                          for why, names in not_computed.items()]
    lines += ["", "alpha: items ordinal, composites interval; bands: >= .800 reliable, "
              ".667-.800 tentative, < .667 unreliable (Krippendorff), from the point estimate "
              "and from the interval's lower bound. ICC(A,1): absolute agreement of one coder, "
              "from REML variance components. AC2: Gwet's AC2 "
              f"({result.get('settings', {}).get('ac2_weights', 'quadratic')} weights)."]
    for name, study in result.get("d_study", {}).items():
        if "g" in study:
            needed = ", ".join(
                f"{n['clips_per_session'] or '> 200'} clips with {n['coders_per_clip']} coder(s)"
                for n in study["needed"])
            lines.append(
                f"D-study {name}: session score G {study['g']:.2f}, Phi {study['phi']:.2f} "
                f"({study['design']['clips_per_session']:g} clips per session, "
                f"{study['design']['coders_per_clip']:g} coder(s) per clip); G >= "
                f"{study['needed'][0]['g_min']:.2f} needs {needed}")
    for trainee in result.get("certification", []):
        kind = trainee.get("kind", "certification")
        why = f": {'; '.join(trainee['reasons'])}" if trainee["reasons"] else ""
        lines.append(
            f"{kind} {trainee['coder']}: {trainee['status']} ({trainee['items_passing']}"
            f" of {len(trainee['items'])} items within-one >= "
            f"{trainee['criteria']['item_within_one_min']:.0%}, {trainee['n_clips']} "
            f"{'training' if kind == 'certification' else 'master-rated'} clips, "
            f"{trainee.get('date') or 'no date'}){why}"
        )
    for flag in result.get("recalibration", []):
        if flag["status"] == "recalibrate":
            lines.append(
                f"recalibrate {flag['coder']}: over their last {flag['n_clips']} double-coded "
                f"clips alpha {_number(flag['alpha'])}, within-one "
                f"{_percent(flag['within_one_agreement'])} over all items against the other "
                f"coders, below the certification criteria ({'; '.join(flag['reasons'])}); see "
                "`batch create --recalibrate`.")
    return "\n".join(lines)


def flat_table(result: dict) -> pd.DataFrame:
    """One row per item and composite with every statistic in its own column."""
    rows = []
    for kind, name, entry in _rows(result):
        alpha, icc = entry["alpha"], entry["icc"]
        row = {
            "kind": kind, "id": name, "alpha": alpha["value"], "alpha_level": alpha["level"],
            "alpha_ci_low": (alpha.get("ci") or [None, None])[0],
            "alpha_ci_high": (alpha.get("ci") or [None, None])[1],
            "alpha_resamples": alpha["resamples"],
            "alpha_undefined_resamples": alpha.get("undefined_resamples"),
            "alpha_p_below_min": alpha.get("p_below_min"),
            "icc_form": icc.get("form"), "icc": icc.get("value"),
            "icc_ci_low": (icc.get("ci") or [None, None])[0],
            "icc_ci_high": (icc.get("ci") or [None, None])[1], "icc_band": icc.get("band"),
            "icc_band_lower": icc.get("band_lower"), "icc_ci_method": icc.get("ci_method"),
        }
        for form, found in entry["icc_forms"].items():
            label = form.replace("(", "_").replace(",", "").replace(")", "")
            row[label] = found["value"]
            row[f"{label}_ci_low"] = (found.get("ci") or [None, None])[0]
            row[f"{label}_ci_high"] = (found.get("ci") or [None, None])[1]
            if "k" in found:
                row[f"{label}_k"] = found["k"]
        for component in ("clip", "coder", "residual"):
            row[f"variance_{component}"] = entry["variance_components"].get(component)
        if "gwet_ac2" in entry:
            ac2 = entry["gwet_ac2"]
            row.update({"ac2": ac2["value"], "ac2_se": ac2["se"],
                        "ac2_ci_low": (ac2.get("ci") or [None, None])[0],
                        "ac2_ci_high": (ac2.get("ci") or [None, None])[1],
                        "ac2_weights": ac2["weights"]})
        row.update({
            "exact_agreement": entry["exact_agreement"],
            "within_one_agreement": entry["within_one_agreement"],
            "n_clips": entry["n_clips"], "n_coders": entry["n_coders"], "band": entry["band"],
            "band_lower": entry.get("band_lower"),
            "reasons": "; ".join(f"{k}: {v}" for k, v in entry["reasons"].items()),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def _flat_row(entry: dict, prefix: str = "") -> dict:
    """One nested dict as flat columns (icc.value -> icc_value; two-element lists -> _low and
    _high; other lists joined by ' / ')."""
    row: dict = {}
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(_flat_row(value, f"{name}_"))
        elif isinstance(value, list) and len(value) == 2 and all(
                v is None or isinstance(v, float | int) for v in value):
            row[f"{name}_low"], row[f"{name}_high"] = value
        elif isinstance(value, list):
            row[name] = " / ".join(map(str, value))
        else:
            row[name] = value
    return row


def _flatten(entries: list[dict], empty_columns: list[str]) -> pd.DataFrame:
    """Rows of nested dicts as flat columns; with no rows, just the header `empty_columns`."""
    if not entries:
        return pd.DataFrame(columns=empty_columns)
    return pd.DataFrame([_flat_row(entry) for entry in entries])


def _by_variable(entries: list[dict], keys: list[str], kind_column: str = "kind") -> list[dict]:
    """Certification or drift entries as one row per entry x item/composite (named in
    `kind_column` and `id`)."""
    rows = []
    for entry in entries:
        head = {key: entry[key] for key in keys if key in entry}
        for kind in ("items", "composites"):
            for name, found in entry[kind].items():
                rows.append(head | {kind_column: kind[:-1], "id": name} | found)
    return rows


def reliability_study(study: Study) -> dict:
    """Compute reliability from STUDY/ratings.csv, the study's scheme and clip key; write to
    STUDY/reliability/: reliability.json (everything), reliability.csv (items and composites),
    pairs.csv, bias.csv, d_study.csv, certification.csv and drift.csv. Returns the result."""
    ratings = read_table(
        study.ratings_csv, REQUIRED_RATING_COLUMNS,
        f"run `coding-pipeline pull {study.root}` first",
    )
    config = study.config
    clips = read_clips(study) if study.clips_csv.is_file() else None
    masters = {p.name: p.master for p in load_batches(study) if p.extra.get("recalibrate")}
    result = compute_reliability(
        ratings, load_scheme(study.scheme_path), bootstrap=config.bootstrap, seed=config.seed,
        min_item_share=config.min_item_share, alpha_min=config.alpha_min,
        within_one_min=config.within_one_min, source=str(study.ratings_csv),
        clip_policy=config.clip_policy, ac2_weights=config.ac2_weights,
        criteria=CertificationCriteria.from_config(config), clips=clips,
        last_clips=config.recalibration_clips, recalibration_masters=masters,
    )
    write_reliability_files(study.reliability_dir, result)
    return result


def write_reliability_files(folder: Path, result: dict) -> None:
    """reliability.json and the CSV tables of a result, into `folder`."""
    write_json_atomic(folder / "reliability.json", result)
    write_csv_atomic(folder / "reliability.csv", flat_table(result))
    write_csv_atomic(folder / "pairs.csv", _flatten(
        result["pairs"], ["coders", "item", "n_clips", "kappa", "exact_agreement",
                          "within_one_agreement"]))
    bias_rows = [{"variable": name, **row} for name, rows in result["bias"].items()
                 for row in rows]
    write_csv_atomic(folder / "bias.csv", _flatten(
        bias_rows, ["variable", "coder", "mean_difference", "ci_low", "ci_high", "n_clips"]))
    study_rows = [{"composite": name, **row} for name, found in result["d_study"].items()
                  for row in found.get("table", [])]
    write_csv_atomic(folder / "d_study.csv", _flatten(
        study_rows, ["composite", "clips_per_session", "coders_per_clip", "g", "phi"]))
    statistic_columns = ["kind", "id", "alpha", "icc", "exact_agreement",
                         "within_one_agreement", "n_clips"]
    write_csv_atomic(folder / "certification.csv", _flatten(
        _by_variable(result["certification"], ["coder", "master", "kind", "batch", "date",
                                               "status"], kind_column="variable_kind"),
        ["coder", "master", "kind", "batch", "date", "status", "variable_kind",
         *statistic_columns[1:]]))
    write_csv_atomic(folder / "recalibration.csv", _flatten(
        result["recalibration"], ["coder", "last_clips", "status", "until", "alpha",
                                  "within_one_agreement", "n_clips"]))
    drift_rows = [{"by": key.removeprefix("by_"), **row}
                  for key, rows in result["drift"].items() for row in rows]
    write_csv_atomic(folder / "drift.csv", _flatten(
        _by_variable(drift_rows, ["by", "group"]), ["by", "group", *statistic_columns]))
