"""Coding batches: every clip to one coder, a stratified share to a second coder, fairly.

Pure: the clips, the coders and the study's earlier assignments in, a `BatchPlan` out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from coding_pipeline.batches.plan import (
    BatchPlan,
    _strata,
    _stratified_sample,
    families_of,
    order_queues,
)
from coding_pipeline.errors import PipelineError


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


@dataclass
class _Draft:
    """A coding batch being planned: its loads so far and the draws that break ties."""

    coders: list[str]
    before: Loads  # the study's earlier coding batches
    rng: np.random.Generator
    batch: Loads = field(default_factory=Loads)
    primary: dict[str, str] = field(default_factory=dict)  # clip_id -> its primary coder
    tie: dict[str, float] = field(default_factory=dict)  # a fixed random order among equals

    def __post_init__(self) -> None:
        self.new_ties()

    def new_ties(self) -> None:
        for coder in self.coders:
            self.tie[coder] = self.rng.random()

    def assign_doubles(self, clip_ids: list[str], level_primaries: bool) -> list[dict]:
        """A (primary, second coder) pair for each double-coded clip; the second coders' rows."""
        rows = []
        for clip_id in clip_ids:
            first, second = _choose_pair(self.coders, self.batch, self.before, self.tie,
                                         level_primaries)
            self.primary[clip_id] = first
            self.batch.primary[first] += 1
            self.batch.second[second] += 1
            self.batch.pairs[frozenset((first, second))] += 1
            rows.append({"clip_id": clip_id, "coder": second, "role": "reliability"})
            self.new_ties()
        return rows

    def assign_singles(self, shuffled: pd.DataFrame) -> None:
        """A primary coder for each clip still without one, in stratum order."""
        strata = dict(zip(shuffled["clip_id"], shuffled["_stratum"], strict=True))
        by_stratum = Counter((coder, strata[c]) for c, coder in self.primary.items())
        batch, before, tie = self.batch, self.before, self.tie
        for clip_id, stratum in zip(shuffled["clip_id"], shuffled["_stratum"], strict=True):
            if clip_id in self.primary:
                continue
            coder = min(self.coders, key=lambda c, s=stratum: (
                batch.primary[c], by_stratum[(c, s)], before.primary[c] + batch.primary[c],
                tie[c]))
            self.primary[clip_id] = coder
            batch.primary[coder] += 1
            by_stratum[(coder, stratum)] += 1
            self.new_ties()


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
    draft = _Draft(coders, Loads.of(history), rng)
    double = _stratified_sample(shuffled["_stratum"], reliability_share, rng)
    second_rows = draft.assign_doubles(
        [shuffled.loc[position, "clip_id"] for position in double],
        level_primaries=len(shuffled) - len(double) < 2 * len(coders))
    draft.assign_singles(shuffled)
    rows = [{"clip_id": c, "coder": draft.primary[c], "role": "primary"}
            for c in shuffled["clip_id"]] + second_rows
    return BatchPlan(
        name=name, kind="coding", coders=list(coders), seed=seed,
        reliability_share=reliability_share,
        assignments=order_queues(rows, families_of(clips), rng),
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
