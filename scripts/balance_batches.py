"""Fair double coding: the largest imbalance over many seeded study plans, ours beside the
planner before issue 12 (primaries dealt round-robin from a random coder, each batch on its own;
second coders by fewest second codings in the batch).

    .venv/bin/python scripts/balance_batches.py [--plans 1000] [--seed 0]

Each plan draws 2-8 coders, 1-5 batches, 12-90 clips per batch (3 clips per session, 2
timepoints, 2 arms) and a double-coded share of 0.1, 0.2, 0.25, 0.5 or 1.0, and plans its
batches one after the other with the study's history. Printed, as the maximum over all plans:
the spread (most - fewest clips) between coders within one batch and cumulatively after each
batch, for primary and for second-coder clips; and the plans where some pair of coders shares
no clip although the study double-coded at least one clip per pair.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
import pandas as pd

from coding_pipeline.batches import Loads, plan_coding_batch


def make_clips(rng: np.random.Generator, n_clips: int, tag: str) -> pd.DataFrame:
    rows = []
    for number in range(n_clips):
        session = number // 3
        rows.append({"clip_id": f"{tag}c{number:03d}", "dyad_id": f"{tag}D{session // 2:03d}",
                     "timepoint": ("T1", "T2")[session % 2],
                     "arm": ("A", "B")[(session // 2) % 2]})
    return pd.DataFrame(rows).iloc[rng.permutation(n_clips)].reset_index(drop=True)


def baseline_plan(clips: pd.DataFrame, coders: list[str], share: float, seed: int,
                  ) -> pd.DataFrame:
    """The planner before issue 12, without queue ordering (which does not change counts)."""
    from coding_pipeline.batches import _strata, _stratified_sample

    rng = np.random.default_rng(seed)
    shuffled = clips.iloc[rng.permutation(len(clips))].reset_index(drop=True)
    shuffled = shuffled.assign(_stratum=_strata(shuffled)).sort_values("_stratum", kind="stable")
    shuffled = shuffled.reset_index(drop=True)
    start = int(rng.integers(len(coders)))
    primary = {c: coders[(start + i) % len(coders)] for i, c in enumerate(shuffled["clip_id"])}
    rows = [{"clip_id": c, "coder": primary[c], "role": "primary"} for c in shuffled["clip_id"]]
    load = Counter({coder: 0 for coder in coders})
    for position in _stratified_sample(shuffled["_stratum"], share, rng):
        clip_id = shuffled.loc[position, "clip_id"]
        others = [c for c in coders if c != primary[clip_id]]
        fewest = min(load[c] for c in others)
        candidates = [c for c in others if load[c] == fewest]
        second = candidates[int(rng.integers(len(candidates)))]
        load[second] += 1
        rows.append({"clip_id": clip_id, "coder": second, "role": "reliability"})
    return pd.DataFrame(rows)


def spread(counts: Counter, coders: list[str]) -> int:
    values = [counts[c] for c in coders]
    return max(values) - min(values)


def measure(plans: int, seed: int, planner: str) -> dict[str, int]:
    worst = Counter()
    for number in range(plans):
        rng = np.random.default_rng([seed, number])
        coders = [f"coder{c}@lab.org" for c in range(int(rng.integers(2, 9)))]
        n_batches = int(rng.integers(1, 6))
        share = float(rng.choice([0.1, 0.2, 0.25, 0.5, 1.0]))
        history = pd.DataFrame(columns=["batch", "clip_id", "coder", "role"])
        for batch in range(n_batches):
            clips = make_clips(rng, int(rng.integers(12, 91)), f"b{batch}")
            plan_seed = int(rng.integers(2**31))
            if planner == "ours":
                table = plan_coding_batch(clips, coders, f"b{batch}", share, plan_seed,
                                          history=history).assignments
            else:
                table = baseline_plan(clips, coders, share, plan_seed)
            table = table.assign(batch=f"b{batch}")
            now = Loads.of(table)
            history = pd.concat([history, table[history.columns]], ignore_index=True)
            total = Loads.of(history)
            worst["primary, one batch"] = max(worst["primary, one batch"],
                                              spread(now.primary, coders))
            worst["second coder, one batch"] = max(worst["second coder, one batch"],
                                                   spread(now.second, coders))
            worst["primary, cumulative"] = max(worst["primary, cumulative"],
                                               spread(total.primary, coders))
            worst["second coder, cumulative"] = max(worst["second coder, cumulative"],
                                                    spread(total.second, coders))
        pairs = len(coders) * (len(coders) - 1) // 2
        shared = Loads.of(history).pairs
        if sum(shared.values()) >= pairs:
            missing = pairs - sum(1 for n in shared.values() if n > 0)
            worst["plans with a pair sharing no clip"] += missing > 0
    return dict(worst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = {}
    for planner in ("ours", "baseline"):
        start = time.perf_counter()
        results[planner] = measure(args.plans, args.seed, planner)
        print(f"{planner}: {args.plans} seeded study plans in {time.perf_counter() - start:.1f} s")
    print(f"\nlargest spread between coders (clips) over {args.plans} plans "
          "(2-8 coders, 1-5 batches):")
    print(f"{'':36}{'ours':>8}{'baseline':>10}")
    for key in results["ours"]:
        print(f"{key:36}{results['ours'][key]:>8}{results['baseline'].get(key, 0):>10}")


if __name__ == "__main__":
    main()
