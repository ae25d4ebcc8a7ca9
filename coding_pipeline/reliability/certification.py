"""Coders against a reference and over time: certification (each trainee against the master
coder on training clips), recertification (a recalibration batch against the master's own
ratings), recalibration flags (each coder against the other coders over their last
double-coded clips) and drift (every item and composite per batch and per month).
All are judged or summarised per item and per composite, never pooled over items. Pure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from coding_pipeline.rating_checks import RELIABILITY_ROLES
from coding_pipeline.reliability.entries import (
    clip_matrix,
    icc_statistics,
    rounded,
    short_entry,
    unit_matrix,
)
from coding_pipeline.scheme import Scheme
from coding_pipeline.scores.core import coder_composites


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

    icc_items = ()  # no item's ICC is judged

    def as_dict(self) -> dict:
        return asdict(self)

    def items_passing(self, items: dict[str, dict]) -> int:
        """How many items reach the within-one criterion."""
        return sum((e["within_one_agreement"] or 0) >= self.item_within_one_min
                   for e in items.values())

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


@dataclass(frozen=True)
class InterviewCertificationCriteria:
    """When a coder of interviews agrees well enough with the master coder (study.toml
    [certification.interviews]): ICC(A,1) of the overall score >= icc_overall_min, and at
    least demand_within_one_min of the demand-question ratings (every item but the overall)
    within one point of the master's, on >= min_clips (min_interviews) shared interviews."""

    icc_overall_min: float = 0.80
    demand_within_one_min: float = 0.80
    min_clips: int = 10
    overall_item: str = "overall"

    @classmethod
    def from_config(cls, config) -> InterviewCertificationCriteria:
        """The interview criteria of a StudyConfig."""
        return cls(config.certify_interview_icc_overall_min,
                   config.certify_interview_demand_within_one_min,
                   config.certify_min_interviews)

    @property
    def icc_items(self) -> tuple[str, ...]:
        return (self.overall_item,)

    def as_dict(self) -> dict:
        return {"icc_overall_min": self.icc_overall_min,
                "demand_within_one_min": self.demand_within_one_min,
                "min_interviews": self.min_clips}

    def items_passing(self, items: dict[str, dict]) -> int:
        """How many demand questions reach the within-one criterion on their own."""
        return sum((e["within_one_agreement"] or 0) >= self.demand_within_one_min
                   for i, e in items.items() if i != self.overall_item)

    def demand_within_one(self, items: dict[str, dict]) -> float | None:
        """The share of demand-question ratings within one point (pooled over questions)."""
        pairs = [(e["within_one_agreement"], e["n_clips"]) for i, e in items.items()
                 if i != self.overall_item and e["within_one_agreement"] is not None]
        total = sum(n for _, n in pairs)
        return sum(share * n for share, n in pairs) / total if total else None

    def judge(self, items: dict[str, dict], composites: dict[str, dict], n_clips: int
              ) -> tuple[bool, list[str]]:
        """Pass or fail with the reasons (the composites are reported, not judged)."""
        reasons = []
        if n_clips < self.min_clips:
            reasons.append(f"{n_clips} shared interviews (at least {self.min_clips} needed)")
        icc = items.get(self.overall_item, {}).get("icc")
        if icc is None or icc < self.icc_overall_min:
            shown = "undefined" if icc is None else f"{icc:.3f}"
            reasons.append(f"{self.overall_item} ICC(A,1) {shown} (at least "
                           f"{self.icc_overall_min:.2f} needed)")
        share = self.demand_within_one(items)
        if share is None or share < self.demand_within_one_min:
            shown = "undefined" if share is None else f"{share:.0%}"
            reasons.append(f"demand questions within one point {shown} "
                           f"({self.demand_within_one_min:.0%} needed)")
        return not reasons, reasons


Criteria = CertificationCriteria | InterviewCertificationCriteria


def _overall_icc(matrix: np.ndarray, entry: dict) -> None:
    """ICC(A,1) of one coder against the reference (REML), into `entry` (None: undefined)."""
    _, icc, _, reasons = icc_statistics(matrix, 1.0, "one rating against the reference")
    entry["icc"] = icc["value"]
    if "icc" in reasons:
        entry["reasons"]["icc"] = reasons["icc"]


def _per_variable(table: pd.DataFrame, scheme: Scheme, min_item_share: float,
                  composite_table: pd.DataFrame | None = None, icc_items: tuple[str, ...] = (),
                  ) -> tuple[dict[str, dict], dict[str, dict]]:
    """`_short_entry` per item (ordinal alpha; and ICC(A,1) for `icc_items`) and per
    composite (interval alpha); the coders' composites are computed from `table` unless
    given."""
    items = {}
    by_item = dict(iter(table.groupby("item")))
    for item in scheme.items:
        rows = by_item.get(item.id, table.iloc[0:0])
        matrix = clip_matrix(rows)[0]
        items[item.id] = short_entry(matrix, "ordinal", np.array(item.scale.points, float))
        if item.id in icc_items:
            _overall_icc(matrix, items[item.id])
    if composite_table is None:
        composite_table = coder_composites(table, scheme, min_item_share).dropna(
            subset=["value"])
    by_composite = dict(iter(composite_table.groupby("composite")))
    composites = {}
    for composite in scheme.composites:
        rows = by_composite.get(composite.id, composite_table.iloc[0:0])
        matrix = clip_matrix(rows)[0]
        composites[composite.id] = short_entry(matrix, "interval", None)
    return items, composites


def agreement_with(
    ratings: pd.DataFrame, reference: pd.DataFrame, scheme: Scheme,
    criteria: Criteria, min_item_share: float = 0.75,
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
    items, composites = _per_variable(paired, scheme, min_item_share,
                                      icc_items=criteria.icc_items)
    n_clips = int(shared["clip_id"].nunique())
    passed, reasons = criteria.judge(items, composites, n_clips)
    points = np.array(sorted({p for item in scheme.items for p in item.scale.points}), float)
    matrix = (unit_matrix(paired, ["clip_id", "item"])[0] if not paired.empty
              else np.empty((0, 0)))
    summary = short_entry(matrix, "ordinal", points)
    return {
        "n_clips": n_clips, "items": items, "composites": composites,
        "items_passing": criteria.items_passing(items),
        "criteria": criteria.as_dict(), "status": "pass" if passed else "fail",
        "reasons": reasons, "alpha": summary["alpha"],
        "within_one_agreement": summary["within_one_agreement"],
    }


def _date(stamps: pd.Series) -> str | None:
    latest = stamps.max() if stamps.notna().any() else None
    return None if latest is None else latest.strftime("%Y-%m-%d")


def certification(
    clean: pd.DataFrame, scheme: Scheme, criteria: Criteria | None = None,
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
    criteria: Criteria | None = None, min_item_share: float = 0.75,
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
        sized = replace(criteria, min_clips=min(criteria.min_clips,
                                                int(ratings["clip_id"].nunique())))
        entry = agreement_with(ratings, reference.assign(coder="master"), scheme, sized,
                               min_item_share)
        results.append({
            "coder": coder, "master": master or "", "kind": "recertification", "batch": batch,
            "date": _date(ratings["rated_at"]), **entry,
        })
    return results


def recalibration_flags(
    clean: pd.DataFrame, scheme: Scheme, last_clips: int = 10,
    criteria: Criteria | None = None, min_item_share: float = 0.75,
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
        window = replace(criteria, min_clips=2)
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
    return rounded(float(np.mean(defined))) if defined else None
