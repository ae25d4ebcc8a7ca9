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

from itertools import combinations

import numpy as np
import pandas as pd

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
from coding_pipeline.stats.icc import icc_a1, icc_oneway
from coding_pipeline.stats.kappa import quadratic_kappa
from coding_pipeline.study import Study, read_table, write_csv_atomic, write_json_atomic

ALPHA_RELIABLE = 0.800  # Krippendorff: rely on the variable
ALPHA_TENTATIVE = 0.667  # tentative conclusions only


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
    return None if value is None else round(float(value), 6)


def unit_matrix(table: pd.DataFrame, unit: list[str]) -> tuple[np.ndarray, list[str]]:
    """A units x coders float array (NaN = not rated) from rows of `unit`, coder, value."""
    wide = table.pivot_table(index=unit, columns="coder", values="value", aggfunc="first")
    return wide.to_numpy(dtype=float), [str(c) for c in wide.columns]


def _same_coders_everywhere(matrix: np.ndarray) -> np.ndarray | None:
    """The complete clips x coders matrix when every clip was rated by the same coders."""
    present = ~np.isnan(matrix)
    if (present == present[0]).all():
        return matrix[:, present[0]]
    return None


def reliability_entry(
    matrix: np.ndarray, level: str, values: np.ndarray | None,
    bootstrap: int = 1000, seed: int = 0, alpha_min: float = ALPHA_RELIABLE,
    resampler: ClipResampler | None = None,
) -> dict:
    """Alpha (+ bootstrap CI), ICC, exact/within-one agreement, n_clips and n_coders of one
    units x coders array, in the issue-5 ENTRY layout. With a bootstrap, alpha also carries
    `p_below_min`: the share of defined resamples with alpha < alpha_min (as Hayes &
    Krippendorff's KALPHA reports the chance of failing to reach a minimum alpha)."""
    matrix = np.asarray(matrix, dtype=float)
    twice = matrix[(~np.isnan(matrix)).sum(axis=1) >= 2]
    twice = twice[:, (~np.isnan(twice)).any(axis=0)]
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
    icc: dict = {"form": None, "value": None, "ci": None}
    try:
        if n_clips < 2:
            raise UndefinedStatistic(too_few)
        complete = _same_coders_everywhere(twice)
        result = icc_a1(complete) if complete is not None else icc_oneway(twice)
        icc = {"form": result.form, "value": _round(result.value),
               "ci": [_round(result.ci[0]), _round(result.ci[1])],
               "band": icc_band(result.value)}
    except UndefinedStatistic as reason:
        icc["reason"] = reasons["icc"] = str(reason)
    exact = within_one = None
    try:
        found = pairwise_agreement(twice)
        exact, within_one = _round(found.exact), _round(found.within_one)
    except UndefinedStatistic as reason:
        reasons["exact_agreement"] = reasons["within_one_agreement"] = str(reason)
    return {
        "alpha": alpha, "icc": icc, "exact_agreement": exact, "within_one_agreement": within_one,
        "n_clips": n_clips, "n_coders": n_coders, "band": band(alpha["value"]),
        "reasons": reasons,
    }


def _pair_entries(table: pd.DataFrame, scheme: Scheme) -> list[dict]:
    """Per coder pair, per item and pooled over items (item null): quadratic-weighted kappa,
    exact and within-one agreement on the clips both rated. Kappa needs two or more clips
    and variation in each coder's ratings (else null with a reason); agreement is a share of
    rating pairs, defined from one pair on."""
    entries = []
    coders = sorted(table["coder"].unique())
    by_coder = {c: table[table["coder"] == c].set_index(["clip_id", "item"])["value"]
                for c in coders}
    for first, second in combinations(coders, 2):
        both = pd.concat([by_coder[first], by_coder[second]], axis=1, join="inner")
        if both.empty:
            continue
        both.columns = ["first", "second"]
        scopes = [(item.id, item.scale.points) for item in scheme.items]
        points = sorted({p for item in scheme.items for p in item.scale.points})
        scopes.append((None, points))
        for item_id, categories in scopes:
            rows = (both if item_id is None
                    else both[both.index.get_level_values("item") == item_id])
            if rows.empty:
                continue
            entry: dict = {"coders": [first, second], "item": item_id,
                           "n_clips": int(rows.index.get_level_values("clip_id").nunique()),
                           "reasons": {}}
            try:
                if entry["n_clips"] < 2:
                    raise UndefinedStatistic("only one clip was rated by both coders")
                entry["kappa"] = _round(quadratic_kappa(
                    rows["first"], rows["second"], np.array(categories), (first, second)))
            except UndefinedStatistic as reason:
                entry["kappa"] = None
                entry["reasons"]["kappa"] = str(reason)
            found = agreement(rows["first"], rows["second"])
            entry["exact_agreement"] = _round(found.exact)
            entry["within_one_agreement"] = _round(found.within_one)
            entries.append(entry)
    return entries


def _pooled_entry(table: pd.DataFrame, scheme: Scheme, bootstrap: int, seed: int) -> dict:
    """Statistics over all items at once: each clip x item is a unit (ordinal alpha);
    n_clips counts clips (not clip x item units) rated by two or more coders."""
    points = sorted({p for item in scheme.items for p in item.scale.points})
    matrix = unit_matrix(table, ["clip_id", "item"])[0] if not table.empty else np.empty((0, 0))
    entry = reliability_entry(matrix, "ordinal", np.array(points, dtype=float), bootstrap, seed)
    coders_per_clip = table.groupby("clip_id")["coder"].nunique()
    entry["n_clips"] = int((coders_per_clip >= 2).sum())
    return entry


def agreement_with(
    ratings: pd.DataFrame, reference: pd.DataFrame, scheme: Scheme, alpha_min: float,
    within_one_min: float,
) -> dict:
    """One coder's ratings against reference ratings (coder column constant: the master, or
    the other coders) on the clips and items both rated, pooled over items: alpha (ordinal),
    ICC, within-one and exact agreement, judged by the certification criteria (pass when
    alpha >= alpha_min and within-one >= within_one_min, else "not yet"). The one place
    certification, recertification and the recalibration flags are judged."""
    shared = ratings.merge(reference[["clip_id", "item"]], on=["clip_id", "item"])
    paired = pd.concat([shared, reference.merge(
        shared[["clip_id", "item"]], on=["clip_id", "item"])])
    entry = _pooled_entry(paired, scheme, bootstrap=0, seed=0)
    alpha = entry["alpha"]["value"]
    within_one = entry["within_one_agreement"]
    passed = (alpha is not None and within_one is not None
              and alpha >= alpha_min and within_one >= within_one_min)
    return {
        "n_clips": int(shared["clip_id"].nunique()), "alpha": alpha, "icc": entry["icc"],
        "within_one_agreement": within_one, "exact_agreement": entry["exact_agreement"],
        "thresholds": {"alpha": alpha_min, "within_one_agreement": within_one_min},
        "status": "pass" if passed else "not yet", "reasons": entry["reasons"],
    }


def _date(stamps: pd.Series) -> str | None:
    latest = stamps.max() if stamps.notna().any() else None
    return None if latest is None else latest.strftime("%Y-%m-%d")


def certification(
    clean: pd.DataFrame, scheme: Scheme, alpha_min: float = 0.80, within_one_min: float = 0.85,
) -> list[dict]:
    """Each trainee against the master coder on the training clips both rated (see
    `agreement_with`), with the date of the trainee's last training rating."""
    masters = clean[clean["role"] == "master"]
    trainees = clean[clean["role"] == "training"]
    results = []
    master_ratings = masters.sort_values("coder").drop_duplicates(["clip_id", "item"])
    master_ratings = master_ratings.assign(coder="master")
    for coder, ratings in trainees.groupby("coder", sort=True):
        results.append({
            "coder": coder, "master": ", ".join(sorted(masters["coder"].unique())),
            "kind": "certification", "batch": ", ".join(sorted(set(ratings["batch"]))),
            "date": _date(ratings["rated_at"]),
            **agreement_with(ratings, master_ratings, scheme, alpha_min, within_one_min),
        })
    return results


def recertification(
    clean: pd.DataFrame, scheme: Scheme, masters: dict[str, str], alpha_min: float = 0.80,
    within_one_min: float = 0.85,
) -> list[dict]:
    """Each recalibration batch (role recalibration; `masters`: batch -> master coder): the
    coder against the master's own ratings of those clips (training or study, the latest),
    with the date of the coder's last rating in the batch."""
    recalibrating = clean[clean["role"] == "recalibration"]
    reference_roles = ("master", *RELIABILITY_ROLES)
    results = []
    for (batch, coder), ratings in recalibrating.groupby(["batch", "coder"], sort=True):
        master = masters.get(batch)
        reference = clean[(clean["coder"] == master) & clean["role"].isin(reference_roles)]
        reference = reference.sort_values(["rated_at", "line"], na_position="first")
        reference = reference.drop_duplicates(["clip_id", "item"], keep="last")
        results.append({
            "coder": coder, "master": master or "", "kind": "recertification", "batch": batch,
            "date": _date(ratings["rated_at"]),
            **agreement_with(ratings, reference.assign(coder="master"), scheme, alpha_min,
                             within_one_min),
        })
    return results


def recalibration_flags(
    clean: pd.DataFrame, scheme: Scheme, last_clips: int = 10, alpha_min: float = 0.80,
    within_one_min: float = 0.85,
) -> list[dict]:
    """Each coder against the other coders over the coder's last `last_clips` double-coded
    study clips (by the coder's rating time), judged as in certification: status `ok`,
    `recalibrate` (below the criteria) or `too few clips` (fewer than two)."""
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
        entry = agreement_with(own, others.assign(coder="others"), scheme, alpha_min,
                               within_one_min)
        status = ("too few clips" if entry["n_clips"] < 2
                  else "ok" if entry["status"] == "pass" else "recalibrate")
        flags.append({"coder": coder, "last_clips": last_clips, **entry, "status": status,
                      "until": _date(own["rated_at"])})
    return flags


def drift(clean: pd.DataFrame, scheme: Scheme) -> dict[str, list[dict]]:
    """The pooled statistics by batch and by month of annotation. A clip belongs to the batch
    and month of its last rating (when its double-coding was complete)."""
    table = clean[clean["role"].isin(RELIABILITY_ROLES)]
    last = table.sort_values(["rated_at", "line"], na_position="first").groupby("clip_id").last()
    groups = {
        "by_batch": last["batch"].replace("", np.nan),
        "by_month": last["rated_at"].dt.strftime("%Y-%m") if last["rated_at"].notna().any()
        else pd.Series(np.nan, index=last.index),
    }
    result: dict[str, list[dict]] = {}
    for name, labels in groups.items():
        rows = []
        for label, clip_ids in labels.dropna().groupby(labels.dropna()).groups.items():
            subset = table[table["clip_id"].isin(clip_ids)]
            entry = _pooled_entry(subset, scheme, bootstrap=0, seed=0)
            if entry["n_clips"] == 0:
                continue
            rows.append({"group": str(label), "alpha": entry["alpha"]["value"],
                         "icc": entry["icc"], "exact_agreement": entry["exact_agreement"],
                         "within_one_agreement": entry["within_one_agreement"],
                         "n_clips": entry["n_clips"], "n_coders": entry["n_coders"],
                         "reasons": entry["reasons"]})
        result[name] = rows
    return result


def compute_reliability(
    ratings: pd.DataFrame, scheme: Scheme, bootstrap: int = 1000, seed: int = 0,
    min_item_share: float = 0.75, alpha_min: float = 0.80, within_one_min: float = 0.85,
    source: str = "ratings", last_clips: int = 10,
    recalibration_masters: dict[str, str] | None = None,
) -> dict:
    """Reliability of a ratings table (clip_id, coder, item, value [, role, batch, status,
    created_at, updated_at]) under a scheme, as the issue-5 JSON layout:

        {"items": {id: ENTRY}, "composites": {id: ENTRY}, "pairs": [...],
         "certification": [...], "recalibration": [...],
         "drift": {"by_batch": [...], "by_month": [...]},
         "warnings": [...], ...}

    Items: ordinal alpha over the scale points; composites (a coder's mean of reverse-keyed
    items, see scores.coder_composites): interval alpha. Bootstrap resamples clips, seeded.
    """
    clean, warnings = check_ratings(ratings, scheme, source=source)
    independent = clean[clean["role"].isin(RELIABILITY_ROLES)]
    by_item = {item_id: rows for item_id, rows in independent.groupby("item")}
    resampler = ClipResampler(bootstrap, seed)
    items = {}
    for item in scheme.items:
        rows = by_item.get(item.id, independent.iloc[0:0])
        matrix = unit_matrix(rows, ["clip_id"])[0] if not rows.empty else np.empty((0, 0))
        items[item.id] = reliability_entry(
            matrix, "ordinal", np.array(item.scale.points, dtype=float), bootstrap, seed,
            alpha_min, resampler,
        )
    composite_table = coder_composites(independent, scheme, min_item_share).dropna(
        subset=["value"])
    composites = {}
    for composite in scheme.composites:
        rows = composite_table[composite_table["composite"] == composite.id]
        matrix = unit_matrix(rows, ["clip_id"])[0] if not rows.empty else np.empty((0, 0))
        composites[composite.id] = reliability_entry(
            matrix, "interval", None, bootstrap, seed, alpha_min, resampler,
        )
    return {
        "scheme": {"name": scheme.name, "version": scheme.version},
        "settings": {"bootstrap": bootstrap, "seed": seed, "min_item_share": min_item_share,
                     "alpha_min": alpha_min, "within_one_min": within_one_min,
                     "confidence": 0.95,
                     "resampling": "clips with replacement, the same draws for every variable "
                                   "rated on the same clips"},
        "n_ratings": int(len(independent)),
        "items": items,
        "composites": composites,
        "pairs": _pair_entries(independent, scheme),
        "certification": certification(clean, scheme, alpha_min, within_one_min)
        + recertification(clean, scheme, recalibration_masters or {}, alpha_min, within_one_min),
        "recalibration": recalibration_flags(clean, scheme, last_clips, alpha_min,
                                             within_one_min),
        "drift": drift(clean, scheme),
        "warnings": warnings,
    }


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
    header = (f"{'item / composite':<32} {'alpha':>6} {'95% CI':<15} {'ICC':<16} "
              f"{'exact':>5} {'+-1':>5} {'clips':>5} {'coders':>6}  band")
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
        icc_text = (f"{icc['form']} {icc['value']:.2f}" if icc.get("value") is not None else "-")
        label = name if kind == "item" else f"{name} (composite)"
        lines.append(
            f"{label:<32} {_number(alpha['value']):>6} {ci_text:<15} {icc_text:<16} "
            f"{_percent(entry['exact_agreement']):>5} {_percent(entry['within_one_agreement']):>5} "
            f"{entry['n_clips']:>5} {entry['n_coders']:>6}  {entry['band']}"
        )
    not_computed: dict[str, list[str]] = {}
    for _, name, entry in _rows(result):
        for why in dict.fromkeys(entry["reasons"].values()):
            not_computed.setdefault(why, []).append(name)
    if not_computed:
        lines += ["", "Not computed:"] + [f"  {why}: {', '.join(names)}"
                                          for why, names in not_computed.items()]
    lines += ["", "alpha: items ordinal, composites interval; bands: >= .800 reliable, "
              ".667-.800 tentative, < .667 unreliable (Krippendorff)."]
    for trainee in result.get("certification", []):
        kind = trainee.get("kind", "certification")
        lines.append(
            f"{kind} {trainee['coder']}: {trainee['status']} (alpha "
            f"{_number(trainee['alpha'])}, within-one {_percent(trainee['within_one_agreement'])}, "
            f"{trainee['n_clips']} {'training' if kind == 'certification' else 'master-rated'} "
            f"clips, {trainee.get('date') or 'no date'})"
        )
    for flag in result.get("recalibration", []):
        if flag["status"] == "recalibrate":
            lines.append(
                f"recalibrate {flag['coder']}: over their last {flag['n_clips']} double-coded "
                f"clips alpha {_number(flag['alpha'])}, within-one "
                f"{_percent(flag['within_one_agreement'])} against the other coders, below the "
                "certification criteria; see `batch create --recalibrate`.")
    return "\n".join(lines)


def flat_table(result: dict) -> pd.DataFrame:
    """One row per item and composite with every statistic in its own column."""
    rows = []
    for kind, name, entry in _rows(result):
        alpha, icc = entry["alpha"], entry["icc"]
        rows.append({
            "kind": kind, "id": name, "alpha": alpha["value"], "alpha_level": alpha["level"],
            "alpha_ci_low": (alpha.get("ci") or [None, None])[0],
            "alpha_ci_high": (alpha.get("ci") or [None, None])[1],
            "alpha_resamples": alpha["resamples"],
            "alpha_undefined_resamples": alpha.get("undefined_resamples"),
            "alpha_p_below_min": alpha.get("p_below_min"),
            "icc_form": icc.get("form"), "icc": icc.get("value"),
            "icc_ci_low": (icc.get("ci") or [None, None])[0],
            "icc_ci_high": (icc.get("ci") or [None, None])[1], "icc_band": icc.get("band"),
            "exact_agreement": entry["exact_agreement"],
            "within_one_agreement": entry["within_one_agreement"],
            "n_clips": entry["n_clips"], "n_coders": entry["n_coders"], "band": entry["band"],
            "reasons": "; ".join(f"{k}: {v}" for k, v in entry["reasons"].items()),
        })
    return pd.DataFrame(rows)


def _flatten(entries: list[dict], empty_columns: list[str]) -> pd.DataFrame:
    """Rows of nested dicts as flat columns (icc.value -> icc_value; lists joined by ' / ');
    with no rows, just the header `empty_columns`."""
    if not entries:
        return pd.DataFrame(columns=empty_columns)
    rows = []
    for entry in entries:
        row: dict = {}
        for key, value in entry.items():
            if isinstance(value, dict):
                row.update({f"{key}_{k}": v for k, v in value.items() if not isinstance(v, list)})
                for k, v in value.items():
                    if isinstance(v, list):
                        row[f"{key}_{k}_low"], row[f"{key}_{k}_high"] = v
            elif isinstance(value, list):
                row[key] = " / ".join(map(str, value))
            else:
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows)


def reliability_study(study: Study) -> dict:
    """Compute reliability from STUDY/ratings.csv and the study's scheme; write to
    STUDY/reliability/: reliability.json (everything), reliability.csv (items and composites),
    pairs.csv, certification.csv and drift.csv. Returns the result."""
    ratings = read_table(
        study.ratings_csv, REQUIRED_RATING_COLUMNS,
        f"run `coding-pipeline pull {study.root}` first",
    )
    config = study.config
    masters = {p.name: p.master for p in load_batches(study) if p.extra.get("recalibrate")}
    result = compute_reliability(
        ratings, load_scheme(study.scheme_path), bootstrap=config.bootstrap, seed=config.seed,
        min_item_share=config.min_item_share, alpha_min=config.alpha_min,
        within_one_min=config.within_one_min, source=str(study.ratings_csv),
        last_clips=config.recalibration_clips, recalibration_masters=masters,
    )
    write_json_atomic(study.reliability_dir / "reliability.json", result)
    write_csv_atomic(study.reliability_dir / "reliability.csv", flat_table(result))
    agreement_columns = ["alpha", "icc_form", "icc_value", "exact_agreement",
                         "within_one_agreement", "n_clips"]
    write_csv_atomic(study.reliability_dir / "pairs.csv", _flatten(
        result["pairs"], ["coders", "item", "n_clips", "kappa", "exact_agreement",
                          "within_one_agreement"]))
    write_csv_atomic(study.reliability_dir / "certification.csv", _flatten(
        result["certification"], ["coder", "master", "kind", "batch", "date", "status",
                                  *agreement_columns]))
    write_csv_atomic(study.reliability_dir / "recalibration.csv", _flatten(
        result["recalibration"], ["coder", "last_clips", "status", "until",
                                  *agreement_columns]))
    drift_rows = [{"by": key.removeprefix("by_"), **row}
                  for key, rows in result["drift"].items() for row in rows]
    write_csv_atomic(study.reliability_dir / "drift.csv", _flatten(
        drift_rows, ["by", "group", *agreement_columns]))
    return result
