"""Consensus on disagreements: which double-coded clips go to a consensus meeting, what the
consensus coder is shown, and which clips were re-coded afterwards.

The selection is pure (`find_disagreements`, `plan_consensus_batch`, `shown_fields`,
`recoded_after_consensus`); `create_consensus_batch` reads the study's ratings and batches and
saves the batch. A consensus batch is an ordinary batch (batches/NAME.csv, role `consensus`)
whose NAME.json also holds `threshold`, `composite` and `disagreements`: for each clip, the
coders in the order shown ("Coder 1" = the primary coder, "Coder 2" = the second coder), their
ratings of every item at the time the batch was made, and what was over the threshold.

Only independent ratings of study clips count (role primary, reliability or none); training
and master ratings, and earlier consensus ratings, never do.

Interviews (`interviews=True`): the same, interviews being the units (their ratings read with
the study's [interviews] scheme; items are the demand questions and `overall`); the batch's
NAME.json also says `"unit": "interview"`, so push and pull treat it as a batch of interviews.
Clip and interview consensus batches are kept apart: each kind's selection, re-coding check
and summary look only at consensus batches of its own unit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.ratings import (
    RELIABILITY_ROLES,
    StudyRatings,
    read_interview_ratings,
    read_study_ratings,
)
from coding_pipeline.scheme import Scheme
from coding_pipeline.scores.core import coder_composites
from coding_pipeline.study import Study, read_clips, seed_or_random

CONSENSUS_ROLE = "consensus"
CONSENSUS_KIND = "consensus"
SHOWN_PREFIX = "shown_"  # task data key of the ratings shown for an item: shown_<item id>
SUMMARY_KEY = "shown_summary"
_ROLE_ORDER = {"primary": 0, "reliability": 1}


def consensus_plans(plans: list[batches.BatchPlan], interviews: bool = False
                    ) -> list[batches.BatchPlan]:
    """The consensus batches among `plans` of clips (or, with `interviews`, of interviews)."""
    return [p for p in plans
            if p.kind == CONSENSUS_KIND and batches.is_interview_batch(p) == interviews]


def _coder_order(rows: pd.DataFrame) -> list[str]:
    """A clip's coders in the order shown: primary, second coder, then any others by email."""
    roles = rows.groupby("coder")["role"].first()
    return sorted(roles.index, key=lambda c: (_ROLE_ORDER.get(roles[c], 2), c))


def _json_value(value: float) -> float | int | None:
    """A rating or spread as kept in the batch's JSON: a whole number as int, else 4
    decimals; None for a missing one."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value) if float(value).is_integer() else round(float(value), 4)


def find_disagreements(
    clean: pd.DataFrame, scheme: Scheme, threshold: float = 1.0, composite: bool = False,
    min_item_share: float = 0.75, exclude: set[str] | frozenset = frozenset(),
) -> list[dict]:
    """Double-coded study clips whose independent ratings differ by more than `threshold`
    scale points on any item (or, with `composite`, on any composite), leaving out `exclude`.

    `clean` is `check_ratings` output. Each entry: clip_id, coders (in the order shown),
    ratings {item: [value per coder, None when not rated]}, over [{"item" or "composite": id,
    "spread": max - min}] (what is over the threshold), and, with `composite`, composites
    {id: [value per coder]}. Sorted by clip id.
    """
    study = clean[clean["role"].isin(RELIABILITY_ROLES) & ~clean["clip_id"].isin(exclude)]
    coders_per_clip = study.groupby("clip_id")["coder"].nunique()
    double = study[study["clip_id"].isin(coders_per_clip.index[coders_per_clip >= 2])]
    values = double.pivot_table(index=["clip_id", "item"], columns="coder", values="value",
                                aggfunc="last")
    composite_values = None
    if composite:
        table = coder_composites(double, scheme, min_item_share)
        composite_values = table.pivot_table(index=["clip_id", "composite"], columns="coder",
                                             values="value", aggfunc="last")
    found = []
    for clip_id, rows in double.groupby("clip_id", sort=True):
        coders = _coder_order(rows)
        ratings = {}
        over = []
        for item in scheme.items:
            key = (clip_id, item.id)
            shown = [(_json_value(values.at[key, c]) if key in values.index else None)
                     for c in coders]
            ratings[item.id] = shown
            rated = [v for v in shown if v is not None]
            spread = max(rated) - min(rated) if len(rated) >= 2 else 0
            if not composite and spread > threshold:
                over.append({"item": item.id, "spread": _json_value(spread)})
        entry = {"clip_id": str(clip_id), "coders": coders, "ratings": ratings}
        if composite_values is not None:
            entry["composites"] = {}
            for comp in scheme.composites:
                key = (clip_id, comp.id)
                shown = [(_json_value(composite_values.at[key, c])
                          if key in composite_values.index and c in composite_values.columns
                          else None) for c in coders]
                entry["composites"][comp.id] = shown
                rated = [v for v in shown if v is not None]
                spread = max(rated) - min(rated) if len(rated) >= 2 else 0
                if spread > threshold:
                    over.append({"composite": comp.id, "spread": _json_value(spread)})
        if over:
            entry["over"] = over
            found.append(entry)
    return found


def marked_items(entry: dict, scheme: Scheme) -> list[str]:
    """The items a consensus task marks as disagreeing: those over the threshold, or (for a
    composite over it) the composite's items whose ratings differ."""
    marked = {o["item"] for o in entry["over"] if "item" in o}
    for over in entry["over"]:
        if "composite" in over:
            comp = next(c for c in scheme.composites if c.id == over["composite"])
            for item_id in comp.items:
                rated = [v for v in entry["ratings"].get(item_id, []) if v is not None]
                if len(set(rated)) > 1:
                    marked.add(item_id)
    return [item.id for item in scheme.items if item.id in marked]


def shown_fields(entry: dict, scheme: Scheme) -> dict[str, str]:
    """Task data for one clip of a consensus batch: per item `shown_<item>`, the coders'
    ratings as "Coder 1 / Coder 2: 2 / 5" with disagreeing items marked, and a summary line.
    No coder names and nothing about the family."""
    labels = " / ".join(f"Coder {n}" for n in range(1, len(entry["coders"]) + 1))
    marked = marked_items(entry, scheme)
    fields: dict[str, str] = {}
    for item in scheme.items:
        values = entry["ratings"].get(item.id) or [None] * len(entry["coders"])
        text = f"{labels}: " + " / ".join("-" if v is None else f"{v:g}" for v in values)
        if item.id in marked:
            rated = [v for v in values if v is not None]
            text += f"   << DISAGREE ({max(rated) - min(rated):g} apart)"
        fields[f"{SHOWN_PREFIX}{item.id}"] = text
    item_labels = {i.id: i.label for i in scheme.items}
    composite_labels = {c.id: c.label for c in scheme.composites}
    parts = [f"{item_labels[o['item']]} ({o['spread']:g} apart)" if "item" in o
             else f"{composite_labels[o['composite']]} (composite, {o['spread']:g} apart)"
             for o in entry["over"]]
    fields[SUMMARY_KEY] = "Disagreement on: " + "; ".join(parts)
    return fields


def with_consensus_fields(
    queues: dict[tuple[str, str], list[dict]], plans: list[batches.BatchPlan], scheme: Scheme,
) -> dict[tuple[str, str], list[dict]]:
    """The push queues ((batch, coder) -> task data), with the ratings shown (`shown_fields`)
    added to the tasks of the consensus batches among them (pure). `scheme` is the scheme of
    the queues' units."""
    pushed = {batch for batch, _ in queues}
    shown = {
        (plan.name, entry["clip_id"]): shown_fields(entry, scheme)
        for plan in plans if plan.kind == CONSENSUS_KIND and plan.name in pushed
        for entry in plan.extra.get("disagreements", [])
    }
    return {
        (batch, coder): [{**task, **shown.get((batch, task["clip_id"]), {})} for task in queue]
        for (batch, coder), queue in queues.items()
    }


def plan_consensus_batch(
    disagreements: list[dict], consensus_coders: list[str], clips: pd.DataFrame, name: str,
    threshold: float, composite: bool, seed: int,
) -> batches.BatchPlan:
    """A consensus batch: each disagreeing clip to one consensus coder (the one with fewest
    clips so far; among those, one who coded the clip, as at a meeting of the pair), role
    `consensus`, in an order where one family's clips do not come in a row."""
    rng = np.random.default_rng(seed)
    load = Counter({coder: 0 for coder in consensus_coders})
    rows = []
    for entry in disagreements:
        fewest = min(load.values())
        candidates = [c for c in consensus_coders if load[c] == fewest]
        coder = next((c for c in candidates if c in entry["coders"]), candidates[0])
        load[coder] += 1
        rows.append({"clip_id": entry["clip_id"], "coder": coder, "role": CONSENSUS_ROLE})
    families = dict(zip(clips["clip_id"], clips["dyad_id"].astype(str), strict=True))
    plan = batches.BatchPlan(
        name=name, kind=CONSENSUS_KIND, coders=list(consensus_coders), seed=seed,
        reliability_share=0.0, assignments=batches.order_queues(rows, families, rng),
        extra={"threshold": threshold, "composite": composite, "disagreements": disagreements},
    )
    return plan


def recoded_after_consensus(clean: pd.DataFrame, plans: list[batches.BatchPlan],
                            interviews: bool = False) -> list[dict]:
    """Ratings of clips (with `interviews`: interviews) sent to consensus that changed since:
    batch, clip_id, coder (as shown, "Coder 1"...), email, item, was, now (None when the rating
    is gone)."""
    study = clean[clean["role"].isin(RELIABILITY_ROLES)]
    current = study.drop_duplicates(["clip_id", "coder", "item"], keep="last").set_index(
        ["clip_id", "coder", "item"])["value"]
    changed = []
    for plan in consensus_plans(plans, interviews):
        for entry in plan.extra.get("disagreements", []):
            for item_id, values in entry["ratings"].items():
                for number, (coder, was) in enumerate(zip(entry["coders"], values, strict=True),
                                                      start=1):
                    key = (entry["clip_id"], coder, item_id)
                    now = _json_value(current[key]) if key in current.index else None
                    if now != was:
                        changed.append({"batch": plan.name, "clip_id": entry["clip_id"],
                                        "coder": f"Coder {number}", "email": coder,
                                        "item": item_id, "was": was, "now": now})
    return changed


def consensus_summary(plans: list[batches.BatchPlan], interviews: bool = False) -> dict:
    """What went to consensus: clips, clips per item (or composite) over the threshold, and
    how far apart (spread -> count), over every consensus batch of clips (with `interviews`:
    of interviews; the count is still under "clips")."""
    clips = 0
    per_item: Counter = Counter()
    spreads: Counter = Counter()
    for plan in consensus_plans(plans, interviews):
        for entry in plan.extra.get("disagreements", []):
            clips += 1
            for over in entry["over"]:
                per_item[over.get("item") or f"{over['composite']} (composite)"] += 1
                spreads[over["spread"]] += 1
    return {"clips": clips, "items": dict(per_item.most_common()),
            "spreads": dict(sorted(spreads.items()))}


def format_recoded(changed: list[dict], shown: int = 5, unit: str = "clip") -> list[str]:
    """Lines about ratings changed after their clip (or `unit`) went to consensus."""
    if not changed:
        return []
    clips = sorted({(c["batch"], c["clip_id"]) for c in changed})
    lines = [f"Re-coded after consensus: {len(clips)} {unit}(s) have ratings changed since "
             "their consensus batch was made (the consensus coder saw the old ones):"]
    for change in changed[:shown]:
        lines.append(f"  {change['batch']}, {unit} {change['clip_id']}, {change['email']} "
                     f"({change['coder']}), {change['item']}: {change['was']} -> {change['now']}")
    if len(changed) > shown:
        lines.append(f"  ... and {len(changed) - shown} more")
    return lines


# ---------------------------------------------------------------- study files


@dataclass
class ConsensusResult:
    """What `consensus create` did: the batch made (None when nothing was new), and ratings
    changed after earlier consensus batches."""

    plan: batches.BatchPlan | None
    recoded: list[dict]


def _default_coders(plans: list[batches.BatchPlan]) -> list[str]:
    masters = sorted({p.master for p in plans if p.master})
    if len(masters) != 1:
        raise PipelineError(
            "Who records the agreed ratings? Give --coders a@lab.org (one of the pair, for a "
            "meeting, or a master coder)"
            + (f"; the study has several master coders ({', '.join(masters)})." if masters
               else "; the study has no master coder to default to."))
    return masters


def _unit_ratings(study: Study, interviews: bool) -> StudyRatings:
    """The study's checked clip ratings, or with `interviews` its interview ratings."""
    if not interviews:
        return read_study_ratings(study)
    ratings = read_interview_ratings(study)
    if ratings is None:
        raise PipelineError(
            f"--interviews: {study.ratings_csv} holds no rating of an interview of "
            f"{study.transcripts_csv}: push the interview batches, let them be coded, and run "
            f"`coding-pipeline pull {study.root}` first.")
    return ratings


def create_consensus_batch(
    study: Study, coders: list[str] | str | None = None, threshold: float = 1.0,
    composite: bool = False, name: str | None = None, seed: int | None = None,
    interviews: bool = False,
) -> ConsensusResult:
    """Plan a consensus batch of the double-coded study clips (with `interviews`: interviews)
    that disagree by more than `threshold` and are in no consensus batch yet, and save it
    (nothing when none is new)."""
    if threshold < 0:
        raise PipelineError(f"--threshold {threshold:g}: give 0 or more scale points.")
    plans = [p for p in batches.load_batches(study)
             if batches.is_interview_batch(p) == interviews]
    consensus_coders = (batches.parse_coders(coders) if coders
                        else _default_coders(plans))
    ratings = _unit_ratings(study, interviews)
    clean, scheme = ratings.table, ratings.scheme
    if composite and not scheme.composites:
        raise PipelineError(f"--composite: scheme {scheme.name} has no composites.")
    done = {c for p in consensus_plans(plans, interviews) for c in p.assignments["clip_id"]}
    recoded = recoded_after_consensus(clean, plans, interviews)
    found = find_disagreements(clean, scheme, threshold, composite,
                               study.config.min_item_share, exclude=done)
    if not found:
        return ConsensusResult(None, recoded)
    seed = seed_or_random(seed)
    units = batches.interview_units(study) if interviews else read_clips(study)
    plan = plan_consensus_batch(
        found, consensus_coders, units, batches.new_name(study, name, "consensus"),
        threshold, composite, seed)
    if interviews:
        plan.extra["unit"] = batches.INTERVIEW_UNIT
    return ConsensusResult(batches.save_plan(study, plan), recoded)
