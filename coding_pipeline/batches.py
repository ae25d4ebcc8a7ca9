"""Coding batches: which coder rates which clip, in which order.

Planning is pure and seeded (`plan_coding_batch`, `plan_training_batch`); `create_batch` and
`create_training_batch` add the study's files around it. A batch is two files in STUDY/batches/:

    <name>.csv    clip_id, coder, role, order   (order: 1-based position in that coder's queue)
    <name>.json   name, kind, created_at, coders, master, seed, reliability_share

Roles: `primary` (the coder first assigned to a clip in a coding batch), `reliability` (the second
coder of a double-coded clip), `training` (a trainee on a training clip) and `master` (the master
coder on a training clip). Training batches draw from all clips and do not use them up.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import Study, read_clips, write_csv_atomic, write_json_atomic

ASSIGNMENT_COLUMNS = ["clip_id", "coder", "role", "order"]
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


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

    def meta(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "created_at": self.created_at,
            "coders": self.coders, "master": self.master, "seed": self.seed,
            "reliability_share": self.reliability_share,
        }


# ---------------------------------------------------------------- pure planning


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


def _order_queues(rows: list[dict], families: dict[str, str], rng) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["clip_id", "coder", "role"])
    ordered = []
    for coder in dict.fromkeys(table["coder"]):
        mine = table[table["coder"] == coder]
        order = spread_order(list(mine["clip_id"]), [families[c] for c in mine["clip_id"]], rng)
        position = {clip_id: i for i, clip_id in enumerate(order, start=1)}
        mine = mine.assign(order=mine["clip_id"].map(position)).sort_values("order")
        ordered.append(mine)
    return pd.concat(ordered, ignore_index=True)[ASSIGNMENT_COLUMNS]


def plan_coding_batch(
    clips: pd.DataFrame, coders: list[str], name: str, reliability_share: float, seed: int,
) -> BatchPlan:
    """Give each clip to one coder, and a stratified share of clips to a second coder.

    Primary coders are dealt round-robin over clips sorted by stratum (timepoint x arm), so each
    coder gets a balanced number of clips from every stratum. The reliability subset is a
    stratified random sample of round(share x n) clips; each gets a second coder other than its
    primary, the one with the fewest second codings so far (ties broken at random). Each coder's
    queue is shuffled so that one family's clips do not come in a row.
    """
    if not 0 <= reliability_share <= 1:
        raise PipelineError(f"--reliability {reliability_share} must be between 0 and 1.")
    if reliability_share > 0 and len(coders) < 2:
        raise PipelineError("Double coding needs at least two coders (or use --reliability 0).")
    rng = np.random.default_rng(seed)
    clips = clips.reset_index(drop=True)
    shuffled = clips.iloc[rng.permutation(len(clips))].reset_index(drop=True)
    shuffled = shuffled.assign(_stratum=_strata(shuffled)).sort_values("_stratum", kind="stable")
    shuffled = shuffled.reset_index(drop=True)
    start = int(rng.integers(len(coders)))
    primary = {
        clip_id: coders[(start + i) % len(coders)] for i, clip_id in enumerate(shuffled["clip_id"])
    }
    rows = [{"clip_id": c, "coder": primary[c], "role": "primary"} for c in shuffled["clip_id"]]
    double = _stratified_sample(shuffled["_stratum"], reliability_share, rng)
    second_load = Counter({coder: 0 for coder in coders})
    for position in double:
        clip_id = shuffled.loc[position, "clip_id"]
        others = [c for c in coders if c != primary[clip_id]]
        fewest = min(second_load[c] for c in others)
        candidates = [c for c in others if second_load[c] == fewest]
        second = candidates[int(rng.integers(len(candidates)))]
        second_load[second] += 1
        rows.append({"clip_id": clip_id, "coder": second, "role": "reliability"})
    families = dict(zip(clips["clip_id"], clips["dyad_id"].astype(str), strict=True))
    return BatchPlan(
        name=name, kind="coding", coders=list(coders), seed=seed,
        reliability_share=reliability_share, assignments=_order_queues(rows, families, rng),
    )


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
    families = dict(zip(clips["clip_id"], clips["dyad_id"].astype(str), strict=True))
    return BatchPlan(
        name=name, kind="training", coders=list(coders), master=master, seed=seed,
        reliability_share=1.0, assignments=_order_queues(rows, families, rng),
    )


def format_plan(plan: BatchPlan) -> str:
    """A plain-text summary of a batch for the lab manager: clips per coder and role."""
    table = plan.assignments
    lines = [
        f"Batch {plan.name} ({plan.kind}), created {plan.created_at}, seed {plan.seed}",
        f"  clips: {table['clip_id'].nunique()}"
        + (f", double-coded: {(table['role'] == 'reliability').sum()}"
           f" ({plan.reliability_share:.0%} asked)" if plan.kind == "coding" else ""),
    ]
    if plan.master:
        lines.append(f"  master coder: {plan.master}")
    counts = table.pivot_table(index="coder", columns="role", values="clip_id",
                               aggfunc="count", fill_value=0)
    roles = [r for r in ("primary", "reliability", "master", "training") if r in counts.columns]
    width = max(len("coder"), *(len(c) for c in counts.index))
    lines.append("  " + "coder".ljust(width) + "".join(f"{r:>13}" for r in roles) + f"{'total':>8}")
    for coder in dict.fromkeys(table["coder"]):
        row = counts.loc[coder]
        lines.append("  " + coder.ljust(width) + "".join(f"{int(row[r]):>13}" for r in roles)
                     + f"{int(row[roles].sum()):>8}")
    return "\n".join(lines)


# ---------------------------------------------------------------- study files


def batches_dir(study: Study) -> Path:
    return study.root / "batches"


def load_batches(study: Study) -> list[BatchPlan]:
    """Every batch of the study, oldest first."""
    plans = []
    for meta_path in sorted(batches_dir(study).glob("*.json")):
        csv_path = meta_path.with_suffix(".csv")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise PipelineError(f"{meta_path}: not valid JSON ({exc}).") from None
        if not csv_path.is_file():
            raise PipelineError(f"{csv_path} is missing: the batch {meta_path.stem} is incomplete.")
        table = pd.read_csv(csv_path, dtype={"clip_id": str, "coder": str, "role": str})
        plans.append(BatchPlan(
            name=meta["name"], kind=meta["kind"], coders=meta["coders"], seed=meta["seed"],
            reliability_share=meta["reliability_share"], assignments=table[ASSIGNMENT_COLUMNS],
            master=meta.get("master"), created_at=meta["created_at"],
        ))
    return sorted(plans, key=lambda p: p.created_at)


def load_assignments(study: Study) -> pd.DataFrame:
    """All assignments of all batches: batch, kind, clip_id, coder, role, order."""
    frames = [p.assignments.assign(batch=p.name, kind=p.kind) for p in load_batches(study)]
    columns = ["batch", "kind", *ASSIGNMENT_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def _new_name(study: Study, name: str | None, prefix: str) -> str:
    existing = {p.stem for p in batches_dir(study).glob("*.json")}
    if name is None:
        number = 1
        while f"{prefix}-{number:02d}" in existing:
            number += 1
        return f"{prefix}-{number:02d}"
    if not _NAME.match(name):
        raise PipelineError(f"Batch name '{name}': use letters, digits, '-', '_' or '.'.")
    if name in existing:
        raise PipelineError(f"A batch named '{name}' already exists: choose another --name.")
    return name


def _save(study: Study, plan: BatchPlan) -> BatchPlan:
    folder = batches_dir(study)
    write_csv_atomic(folder / f"{plan.name}.csv", plan.assignments)
    write_json_atomic(folder / f"{plan.name}.json", plan.meta())  # written last: marks it complete
    return plan


def create_batch(
    study: Study, coders: list[str] | str, reliability_share: float | None = None,
    seed: int | None = None, name: str | None = None, clip_ids: list[str] | None = None,
) -> BatchPlan:
    """Plan a coding batch of every clip not yet in a coding batch (of those in `clip_ids`,
    when given), and save it."""
    coders = parse_coders(coders)
    clips = read_clips(study)
    if clip_ids is not None:
        clips = clips[clips["clip_id"].isin(clip_ids)]
    taken = load_assignments(study)
    taken = set(taken.loc[taken["kind"] == "coding", "clip_id"])
    available = clips[~clips["clip_id"].isin(taken)]
    if available.empty:
        raise PipelineError(
            f"Every clip in {study.clips_csv} is already in a coding batch: "
            "segment new sessions first, or see `coding-pipeline batch show`."
        )
    share = study.config.reliability_share if reliability_share is None else reliability_share
    seed = secrets.randbelow(2**31) if seed is None else seed
    plan = plan_coding_batch(available, coders, _new_name(study, name, "batch"), share, seed)
    return _save(study, plan)


def create_training_batch(
    study: Study, master: str, coders: list[str] | str, n_clips: int = 10,
    seed: int | None = None, name: str | None = None,
) -> BatchPlan:
    """Plan a training set that the master and every trainee code, and save it."""
    (master,) = parse_coders([master])
    coders = parse_coders(coders)
    clips = read_clips(study)
    seed = secrets.randbelow(2**31) if seed is None else seed
    plan = plan_training_batch(
        clips, master, coders, _new_name(study, name, "training"), n_clips, seed,
    )
    return _save(study, plan)
