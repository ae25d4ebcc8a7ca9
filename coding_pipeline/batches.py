"""Coding batches: which coder rates which clip, in which order.

Planning is pure and seeded (`plan_coding_batch`, `plan_training_batch`); `create_batch` and
`create_training_batch` add the study's files around it. A batch is two files in STUDY/batches/:

    <name>.csv    clip_id, coder, role, order   (order: 1-based position in that coder's queue)
    <name>.json   name, kind, created_at, coders, master, seed, reliability_share (and, for
                  consensus and recalibration batches, their own fields: see consensus.py)

Roles: `primary` (the coder first assigned to a clip in a coding batch), `reliability` (the second
coder of a double-coded clip), `training` (a trainee on a training clip), `master` (the master
coder on a training clip) and `consensus` (the coder who records the agreed rating of a clip
whose coders disagreed). Training and recalibration batches (kind `training`) draw from all
clips and do not use them up.

Fair double coding: within a batch each coder's number of primary clips, and of second-coder
clips, differ by at most one (primaries: whenever the single-coded clips are enough to level
them); across batches, ties go to the coders behind on the study's earlier coding batches, so
the cumulative counts stay within a few clips; the pair (primary, second coder) of each
double-coded clip favours the pairs that have shared fewest clips, so every pair of coders
shares clips; the double-coded share is sampled by stratum (timepoint x arm).
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
from coding_pipeline.study import (
    Study,
    read_clips,
    read_table,
    restore_advice,
    write_csv_atomic,
    write_json_atomic,
)

ASSIGNMENT_COLUMNS = ["clip_id", "coder", "role", "order"]
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_META_KEYS = ("name", "kind", "coders", "seed", "reliability_share", "created_at")
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
    extra: dict = field(default_factory=dict)  # further fields of NAME.json (kind-specific)

    def meta(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "created_at": self.created_at,
            "coders": self.coders, "master": self.master, "seed": self.seed,
            "reliability_share": self.reliability_share,
            "assignments": len(self.assignments), **self.extra,
        }


META_KEYS = ("name", "kind", "created_at", "coders", "master", "seed", "reliability_share")


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


@dataclass
class Loads:
    """Clips per coder as primary and as second coder, and clips shared per pair of coders."""

    primary: Counter = field(default_factory=Counter)
    second: Counter = field(default_factory=Counter)
    pairs: Counter = field(default_factory=Counter)  # frozenset({a, b}) -> clips

    @classmethod
    def of(cls, assignments: pd.DataFrame | None) -> Loads:
        """The loads of coding-batch assignments (clip_id, coder, role [, batch])."""
        loads = cls()
        if assignments is None or assignments.empty:
            return loads
        table = assignments
        if "batch" not in table.columns:
            table = table.assign(batch="")
        primary = table[table["role"] == "primary"]
        second = table[table["role"] == "reliability"]
        loads.primary.update(primary["coder"])
        loads.second.update(second["coder"])
        keys = zip(primary["batch"], primary["clip_id"], strict=True)
        first = dict(zip(keys, primary["coder"], strict=True))
        for batch, clip_id, coder in zip(second["batch"], second["clip_id"], second["coder"],
                                         strict=True):
            if (batch, clip_id) in first:
                loads.pairs[frozenset((first[(batch, clip_id)], coder))] += 1
        return loads


def _stratum_sorted(clips: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    shuffled = clips.iloc[rng.permutation(len(clips))].reset_index(drop=True)
    shuffled = shuffled.assign(_stratum=_strata(shuffled)).sort_values("_stratum", kind="stable")
    return shuffled.reset_index(drop=True)


def _choose_pair(
    coders: list[str], batch: Loads, before: Loads, tie: dict[str, float], level_primaries: bool,
) -> tuple[str, str]:
    """The (primary, second coder) of the next double-coded clip; see `plan_coding_batch`."""
    fewest_second = min(batch.second[c] for c in coders)
    fewest_primary = min(batch.primary[c] for c in coders)

    def cost(pair: tuple[str, str]) -> tuple:
        first, second = pair
        together = frozenset(pair)
        levels = (0, False, False)
        if level_primaries:  # coders short of both roles first, lest one is left needing both
            levels = (batch.primary[first] - fewest_primary,
                      batch.primary[second] > fewest_primary,
                      batch.second[first] > fewest_second)
        return (
            batch.second[second] - fewest_second, levels,
            before.second[second] + batch.second[second],
            batch.pairs[together], before.pairs[together] + batch.pairs[together],
            batch.primary[first], before.primary[first] + batch.primary[first],
            tie[second], tie[first],
        )

    return min(((a, b) for a in coders for b in coders if a != b), key=cost)


def plan_coding_batch(
    clips: pd.DataFrame, coders: list[str], name: str, reliability_share: float, seed: int,
    history: pd.DataFrame | None = None,
) -> BatchPlan:
    """Give each clip to one coder, and a stratified share of clips to a second coder, fairly.

    The reliability subset is a stratified random sample of round(share x n) clips (by
    timepoint x arm). Each of its clips gets a pair (primary, second coder): the second coder
    has the fewest second codings in this batch, then in `history` (the study's earlier
    coding-batch assignments) plus this batch; the primary is the other coder whose pair with
    the second coder has shared fewest clips (this batch, then overall), then with the fewest
    primaries. When fewer than two single-coded clips per coder are left to level the
    primaries, the pair levels them too (coders short of both roles first, lest the last
    clip's only candidate for both roles is one coder). The remaining clips, in stratum
    order, go to the coder with the fewest primaries in this batch, then in that stratum,
    then overall. Ties are broken at random (seeded). Each coder's queue is shuffled so that
    one family's clips do not come in a row.
    """
    if not 0 <= reliability_share <= 1:
        raise PipelineError(f"--reliability {reliability_share} must be between 0 and 1.")
    if reliability_share > 0 and len(coders) < 2:
        raise PipelineError("Double coding needs at least two coders (or use --reliability 0).")
    rng = np.random.default_rng(seed)
    clips = clips.reset_index(drop=True)
    shuffled = _stratum_sorted(clips, rng)
    before = Loads.of(history)
    batch = Loads()
    tie = {coder: rng.random() for coder in coders}  # a fixed random order among equals
    double = _stratified_sample(shuffled["_stratum"], reliability_share, rng)
    singles_left = len(shuffled) - len(double)
    primary: dict[str, str] = {}
    rows = []
    for position in double:
        clip_id = shuffled.loc[position, "clip_id"]
        first, second = _choose_pair(coders, batch, before, tie,
                                     level_primaries=singles_left < 2 * len(coders))
        primary[clip_id] = first
        batch.primary[first] += 1
        batch.second[second] += 1
        batch.pairs[frozenset((first, second))] += 1
        rows.append({"clip_id": clip_id, "coder": second, "role": "reliability"})
        for coder in coders:
            tie[coder] = rng.random()
    strata = dict(zip(shuffled["clip_id"], shuffled["_stratum"], strict=True))
    by_stratum = Counter((coder, strata[c]) for c, coder in primary.items())
    for clip_id, stratum in zip(shuffled["clip_id"], shuffled["_stratum"], strict=True):
        if clip_id in primary:
            continue
        coder = min(coders, key=lambda c, s=stratum: (
            batch.primary[c], by_stratum[(c, s)], before.primary[c] + batch.primary[c], tie[c]))
        primary[clip_id] = coder
        batch.primary[coder] += 1
        by_stratum[(coder, stratum)] += 1
        for other in coders:
            tie[other] = rng.random()
    rows = [{"clip_id": c, "coder": primary[c], "role": "primary"}
            for c in shuffled["clip_id"]] + rows
    families = dict(zip(clips["clip_id"], clips["dyad_id"].astype(str), strict=True))
    return BatchPlan(
        name=name, kind="coding", coders=list(coders), seed=seed,
        reliability_share=reliability_share, assignments=order_queues(rows, families, rng),
    )


def pair_matrix(assignments: pd.DataFrame) -> pd.DataFrame:
    """Clips double-coded by each pair of coders (symmetric coder x coder table) from
    coding-batch assignments (clip_id, coder, role [, batch])."""
    loads = Loads.of(assignments[assignments["role"].isin(["primary", "reliability"])])
    coders = sorted(set(assignments["coder"]))
    return pd.DataFrame(
        [[loads.pairs[frozenset((a, b))] if a != b else 0 for b in coders] for a in coders],
        index=coders, columns=coders,
    )


def format_pair_matrix(matrix: pd.DataFrame, title: str) -> str:
    """The pair matrix as text, coders numbered (columns 1, 2, ... follow the rows)."""
    if matrix.empty:
        return ""
    width = max(len(c) for c in matrix.index) + 4
    lines = [f"  {title}:", "  " + " " * width + "".join(f"{n:>5}" for n in
                                                         range(1, len(matrix) + 1))]
    for number, coder in enumerate(matrix.index, start=1):
        lines.append("  " + f"{number}. {coder}".ljust(width)
                     + "".join(f"{int(v):>5}" for v in matrix.loc[coder]))
    return "\n".join(lines)


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
        reliability_share=1.0, assignments=order_queues(rows, families, rng),
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
    families = dict(zip(clips["clip_id"], clips["dyad_id"].astype(str), strict=True))
    return BatchPlan(
        name=name, kind="training", coders=[coder], master=master, seed=seed,
        reliability_share=1.0, assignments=order_queues(rows, families, rng),
        extra={"recalibrate": coder},
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
    roles = [r for r in ("primary", "reliability", "master", "training", "recalibration",
                         "consensus") if r in counts.columns]
    width = max(len("coder"), *(len(c) for c in counts.index))
    lines.append("  " + "coder".ljust(width) + "".join(f"{r:>13}" for r in roles) + f"{'total':>8}")
    for coder in dict.fromkeys(table["coder"]):
        row = counts.loc[coder]
        lines.append("  " + coder.ljust(width) + "".join(f"{int(row[r]):>13}" for r in roles)
                     + f"{int(row[roles].sum()):>8}")
    if plan.kind == "coding" and (table["role"] == "reliability").any():
        lines.append(format_pair_matrix(pair_matrix(table),
                                        "clips double-coded by each pair of coders"))
    if plan.kind == "consensus":
        lines.append(_consensus_lines(plan))
    if plan.extra.get("recalibrate"):
        lines.append(f"  recalibration of {plan.extra['recalibrate']} against the master's "
                     "ratings of these clips")
    return "\n".join(lines)


def _consensus_lines(plan: BatchPlan) -> str:
    found = plan.extra.get("disagreements", [])
    what = "a composite" if plan.extra.get("composite") else "an item"
    per: Counter = Counter()
    spreads: Counter = Counter()
    for entry in found:
        for over in entry["over"]:
            per[over.get("item") or over.get("composite")] += 1
            spreads[over["spread"]] += 1
    lines = [f"  {len(found)} clip(s) whose coders differ by more than "
             f"{plan.extra.get('threshold', 1):g} scale point(s) on {what}"]
    if per:
        lines.append("  over the threshold: " + ", ".join(f"{k} {n}" for k, n in per.items()))
        lines.append("  how far apart: " + ", ".join(
            f"{spread:g} points x {n}" for spread, n in sorted(spreads.items())))
    return "\n".join(lines)


# ---------------------------------------------------------------- study files


def batches_dir(study: Study) -> Path:
    return study.root / "batches"


def load_batches(study: Study) -> list[BatchPlan]:
    """Every batch of the study, oldest first."""
    plans = []
    for meta_path in sorted(batches_dir(study).glob("*.json")):
        csv_path = meta_path.with_suffix(".csv")
        damaged = f"{meta_path} is damaged (cut short or edited)"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PipelineError(f"{damaged}: not valid JSON ({exc}). "
                                f"{restore_advice(meta_path)}") from None
        if not isinstance(meta, dict) or not all(k in meta for k in _META_KEYS):
            raise PipelineError(f"{damaged}: it lacks some of {', '.join(_META_KEYS)}. "
                                f"{restore_advice(meta_path)}")
        if not csv_path.is_file():
            raise PipelineError(f"{csv_path} is missing: the batch {meta_path.stem} is incomplete.")
        table = read_table(csv_path, ASSIGNMENT_COLUMNS, "", written=True)
        if meta.get("assignments") not in (None, len(table)):
            raise PipelineError(
                f"{csv_path} is damaged: it has {len(table)} assignments but "
                f"{meta['assignments']} were written. {restore_advice(csv_path)}")
        order = pd.to_numeric(table["order"], errors="coerce")
        if table[ASSIGNMENT_COLUMNS].eq("").any().any() or order.isna().any():
            raise PipelineError(f"{csv_path} is damaged: a row has an empty field or an order "
                                f"that is not a number. {restore_advice(csv_path)}")
        table["order"] = order.astype(int)
        plans.append(BatchPlan(
            name=meta["name"], kind=meta["kind"], coders=meta["coders"], seed=meta["seed"],
            reliability_share=meta["reliability_share"], assignments=table[ASSIGNMENT_COLUMNS],
            master=meta.get("master"), created_at=meta["created_at"],
            extra={k: v for k, v in meta.items() if k not in META_KEYS},
        ))
    return sorted(plans, key=lambda p: p.created_at)


def load_assignments(study: Study) -> pd.DataFrame:
    """All assignments of all batches: batch, kind, clip_id, coder, role, order."""
    frames = [p.assignments.assign(batch=p.name, kind=p.kind) for p in load_batches(study)]
    columns = ["batch", "kind", *ASSIGNMENT_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def new_name(study: Study, name: str | None, prefix: str) -> str:
    """The batch name to use: `name` checked, else PREFIX-01, PREFIX-02, ... not yet taken."""
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


def save_plan(study: Study, plan: BatchPlan) -> BatchPlan:
    """Write batches/NAME.csv, then NAME.json (its presence marks the batch complete)."""
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
    assigned = load_assignments(study)
    taken = set(assigned.loc[assigned["kind"] == "coding", "clip_id"])
    available = clips[~clips["clip_id"].isin(taken)]
    if available.empty:
        raise PipelineError(
            f"Every clip in {study.clips_csv} is already in a coding batch: "
            "segment new sessions first, or see `coding-pipeline batch show`."
        )
    share = study.config.reliability_share if reliability_share is None else reliability_share
    seed = secrets.randbelow(2**31) if seed is None else seed
    history = assigned[assigned["kind"] == "coding"]
    plan = plan_coding_batch(available, coders, new_name(study, name, "batch"), share, seed,
                             history=history)
    return save_plan(study, plan)


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
        clips, master, coders, new_name(study, name, "training"), n_clips, seed,
    )
    return save_plan(study, plan)


def create_recalibration_batch(
    study: Study, coder: str, master: str, n_clips: int = 10, seed: int | None = None,
    name: str | None = None,
) -> BatchPlan:
    """Plan a recalibration set for `coder` of clips `master` has rated (ratings.csv), and
    save it."""
    from coding_pipeline.ratings import study_ratings

    (coder,) = parse_coders([coder])
    (master,) = parse_coders([master])
    clean = study_ratings(study)
    own = clean[clean["role"].isin(["master", "primary", "reliability", ""])]
    master_rated = set(own.loc[own["coder"] == master, "clip_id"])
    coder_rated = set(clean.loc[clean["coder"] == coder, "clip_id"])
    seed = secrets.randbelow(2**31) if seed is None else seed
    plan = plan_recalibration_batch(
        read_clips(study), master_rated, coder_rated, coder, master,
        new_name(study, name, "recalibration"), n_clips, seed)
    return save_plan(study, plan)
