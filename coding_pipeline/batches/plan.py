"""A batch plan and the planning steps every kind of batch shares: coders checked, clips
sampled by stratum, each coder's queue spread over families; training and recalibration sets.

Pure: tables and settings in, a `BatchPlan` out; the seed makes every draw repeatable.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from coding_pipeline.errors import PipelineError

ASSIGNMENT_COLUMNS = ["clip_id", "coder", "role", "order"]
META_KEYS = ("name", "kind", "created_at", "coders", "master", "seed", "reliability_share")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


@dataclass
class BatchPlan:
    """A batch: its settings and one assignment row per clip x coder."""

    name: str
    kind: str  # "coding" | "training"
    coders: list[str]
    seed: int
    reliability_share: float
    assignments: pd.DataFrame  # columns ASSIGNMENT_COLUMNS
    master: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    extra: dict = field(default_factory=dict)  # further fields of NAME.json (kind-specific)

    def meta(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "created_at": self.created_at,
            "coders": self.coders, "master": self.master, "seed": self.seed,
            "reliability_share": self.reliability_share,
            "assignments": len(self.assignments), **self.extra,
        }


def parse_coders(text: str | list[str]) -> list[str]:
    """Coder emails from 'a@lab.org,b@lab.org' (or a list), checked and de-duplicated."""
    items = text.split(",") if isinstance(text, str) else list(text)
    coders = [c.strip().lower() for c in items if c.strip()]
    bad = [c for c in coders if not _EMAIL.match(c)]
    if bad:
        raise PipelineError(f"Not an email address: {', '.join(bad)}. Coders are named by email.")
    duplicated = [c for c, n in Counter(coders).items() if n > 1]
    if duplicated:
        raise PipelineError(f"Coder listed twice: {', '.join(duplicated)}.")
    if not coders:
        raise PipelineError("No coders given: use --coders a@lab.org,b@lab.org.")
    return coders


def _strata(clips: pd.DataFrame) -> pd.Series:
    """The stratum of each clip: timepoint, and arm where present."""
    timepoint = clips.get("timepoint", pd.Series("", index=clips.index)).fillna("")
    arm = clips.get("arm", pd.Series("", index=clips.index)).fillna("")
    return timepoint.astype(str) + "|" + arm.astype(str)


def _stratified_sample(strata: pd.Series, share: float, rng: np.random.Generator) -> list[int]:
    """Positions of round(share * n) clips, spread over strata by largest remainder."""
    total = int(round(share * len(strata)))
    groups = {key: list(np.flatnonzero(strata.to_numpy() == key)) for key in sorted(set(strata))}
    exact = {key: share * len(pos) for key, pos in groups.items()}
    counts = {key: int(np.floor(value)) for key, value in exact.items()}
    leftover = total - sum(counts.values())
    by_remainder = sorted(groups, key=lambda k: (-(exact[k] - counts[k]), rng.random()))
    for key in by_remainder[:leftover]:
        counts[key] += 1
    chosen: list[int] = []
    for key, positions in groups.items():
        chosen.extend(int(p) for p in rng.choice(positions, size=counts[key], replace=False))
    return sorted(chosen)


def spread_order(clip_ids: list[str], families: list[str], rng: np.random.Generator) -> list[str]:
    """A random order in which no two clips of one family (dyad) come in a row, where possible.

    At each step a family other than the previous one is drawn at random, except that a family
    holding more than half of the remaining clips is taken at once (otherwise it would end up in a
    row at the end).
    """
    remaining: dict[str, list[str]] = {}
    for clip_id, family in zip(clip_ids, families, strict=True):
        remaining.setdefault(family, []).append(clip_id)
    for family in remaining:
        rng.shuffle(remaining[family])
    order: list[str] = []
    last: str | None = None
    left = len(clip_ids)
    while left:
        largest = max(remaining, key=lambda f: len(remaining[f]))
        if largest != last and len(remaining[largest]) * 2 > left:
            family = largest
        else:
            options = sorted(f for f in remaining if f != last) or [last]
            weights = np.array([len(remaining[f]) for f in options], dtype=float)
            family = options[rng.choice(len(options), p=weights / weights.sum())]
        order.append(remaining[family].pop())
        if not remaining[family]:
            del remaining[family]
        last = family
        left -= 1
    return order


def order_queues(rows: list[dict], families: dict[str, str], rng) -> pd.DataFrame:
    """Assignment rows with each coder's queue order (see `spread_order`)."""
    table = pd.DataFrame(rows, columns=["clip_id", "coder", "role"])
    ordered = []
    for coder in dict.fromkeys(table["coder"]):
        mine = table[table["coder"] == coder]
        order = spread_order(list(mine["clip_id"]), [families[c] for c in mine["clip_id"]], rng)
        position = {clip_id: i for i, clip_id in enumerate(order, start=1)}
        mine = mine.assign(order=mine["clip_id"].map(position)).sort_values("order")
        ordered.append(mine)
    return pd.concat(ordered, ignore_index=True)[ASSIGNMENT_COLUMNS]


def families_of(clips: pd.DataFrame) -> dict[str, str]:
    """Each clip's family (its dyad), for `order_queues`."""
    return dict(zip(clips["clip_id"], clips["dyad_id"].astype(str), strict=True))


def plan_training_batch(
    clips: pd.DataFrame, master: str, coders: list[str], name: str, n_clips: int, seed: int,
) -> BatchPlan:
    """A training set of n clips (stratified by timepoint x arm) for the master and trainees."""
    if master in coders:
        raise PipelineError(f"{master} is the master coder: do not list them among --coders too.")
    if n_clips < 2:
        raise PipelineError("A training set needs at least 2 clips (--clips).")
    rng = np.random.default_rng(seed)
    clips = clips.reset_index(drop=True)
    n_clips = min(n_clips, len(clips))
    chosen = _stratified_sample(_strata(clips), n_clips / len(clips), rng)
    picked = clips.iloc[chosen]
    rows = [{"clip_id": c, "coder": master, "role": "master"} for c in picked["clip_id"]]
    for coder in coders:
        rows += [{"clip_id": c, "coder": coder, "role": "training"} for c in picked["clip_id"]]
    return BatchPlan(
        name=name, kind="training", coders=list(coders), master=master, seed=seed,
        reliability_share=1.0, assignments=order_queues(rows, families_of(clips), rng),
    )


def plan_recalibration_batch(
    clips: pd.DataFrame, master_rated: set[str], coder_rated: set[str], coder: str, master: str,
    name: str, n_clips: int, seed: int,
) -> BatchPlan:
    """A recalibration set: n clips the master has rated (stratified by timepoint x arm),
    those the coder has not rated first, for the coder to rate (role `recalibration`); scored
    like a training set against the master's own ratings."""
    if coder == master:
        raise PipelineError(f"{coder} cannot be recalibrated against themselves: give another "
                            "--master.")
    if n_clips < 2:
        raise PipelineError("A recalibration set needs at least 2 clips (--clips).")
    rng = np.random.default_rng(seed)
    rated = clips[clips["clip_id"].isin(master_rated)].reset_index(drop=True)
    if len(rated) < 2:
        raise PipelineError(
            f"{master} has rated {len(rated)} clip(s) of clips.csv: a recalibration set needs "
            "at least 2 clips the master has rated (pull first, or choose another --master).")
    fresh = rated[~rated["clip_id"].isin(coder_rated)].reset_index(drop=True)
    seen = rated[rated["clip_id"].isin(coder_rated)].reset_index(drop=True)
    n_clips = min(n_clips, len(rated))
    picked = []
    for pool, wanted in ((fresh, min(n_clips, len(fresh))), (seen, n_clips - min(n_clips,
                                                                                  len(fresh)))):
        if wanted:
            chosen = _stratified_sample(_strata(pool), wanted / len(pool), rng)
            picked += list(pool.iloc[chosen]["clip_id"])
    rows = [{"clip_id": c, "coder": coder, "role": "recalibration"} for c in picked]
    return BatchPlan(
        name=name, kind="training", coders=[coder], master=master, seed=seed,
        reliability_share=1.0, assignments=order_queues(rows, families_of(clips), rng),
        extra={"recalibrate": coder},
    )
