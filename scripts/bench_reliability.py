"""Benchmark: the whole reliability run vs calling krippendorff.alpha once per bootstrap resample.

    .venv/bin/python scripts/bench_reliability.py [--clips 5000] [--coders 3] [--items 20]
                                                  [--resamples 1000] [--baseline-resamples 20]

Simulates clips x coders x items ratings on a 1-5 scale (items grouped into composites of
five), times `compute_reliability` (alpha with its bootstrap for every item and composite,
ICC, agreement, coder pairs, drift), and times the naive bootstrap: for each resample, draw
clips with replacement and call `krippendorff.alpha` on them. The baseline runs
--baseline-resamples resamples per variable and is extrapolated to --resamples (said in the
output). Both figures are printed in one run.
"""

from __future__ import annotations

import argparse
import os
import time

import krippendorff
import numpy as np
import pandas as pd

from coding_pipeline.reliability import compute_reliability
from coding_pipeline.scheme import parse_scheme


def simulated(clips: int, coders: int, items: int, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Ratings table and scheme data: a true level per clip, one-point coder noise."""
    rng = np.random.default_rng(seed)
    item_ids = [f"item{number:02d}" for number in range(1, items + 1)]
    truth = rng.integers(1, 6, size=(clips, 1, 1))
    values = np.clip(truth + rng.integers(-1, 2, size=(clips, coders, items)), 1, 5)
    clip_ids = np.repeat([f"clip{c:05d}" for c in range(clips)], coders * items)
    coder_ids = np.tile(np.repeat([f"coder{c}@lab.org" for c in range(coders)], items), clips)
    ratings = pd.DataFrame({
        "clip_id": clip_ids, "coder": coder_ids, "item": np.tile(item_ids, clips * coders),
        "value": values.ravel().astype(str),
        "role": np.where(np.char.endswith(coder_ids.astype(str), "0@lab.org"), "primary",
                         "reliability"),
        "batch": np.repeat([f"batch-{c // 1000 + 1}" for c in range(clips)], coders * items),
    })
    scheme = {
        "name": "bench", "version": 1, "scale": {"min": 1, "max": 5},
        "items": [{"id": i, "label": i} for i in item_ids],
        "composites": [{"id": f"composite{n + 1}", "label": f"Composite {n + 1}",
                        "items": item_ids[n:n + 5]} for n in range(0, items, 5)],
    }
    return ratings, scheme


def naive_bootstrap_seconds(data: np.ndarray, resamples: int, level: str, domain) -> float:
    """Seconds for `resamples` calls of krippendorff.alpha on clips drawn with replacement."""
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    for _ in range(resamples):
        chosen = rng.integers(0, data.shape[1], size=data.shape[1])
        krippendorff.alpha(reliability_data=data[:, chosen], level_of_measurement=level,
                           value_domain=domain)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=5000)
    parser.add_argument("--coders", type=int, default=3)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--baseline-resamples", type=int, default=20)
    args = parser.parse_args()

    ratings, scheme_data = simulated(args.clips, args.coders, args.items)
    scheme = parse_scheme(scheme_data)
    print(f"{args.clips} clips x {args.coders} coders x {args.items} items = {len(ratings):,} "
          f"ratings, {len(scheme.composites)} composites, {args.resamples} resamples, "
          f"{os.cpu_count()} CPU(s)")

    started = time.perf_counter()
    result = compute_reliability(ratings, scheme, bootstrap=args.resamples, seed=1)
    ours = time.perf_counter() - started
    first = result["items"][scheme.items[0].id]["alpha"]

    # baseline: the same resampling, one krippendorff.alpha call per resample and variable
    values = ratings.assign(value=ratings["value"].astype(float))
    item_data = values[values["item"] == scheme.items[0].id].pivot(
        index="coder", columns="clip_id", values="value").to_numpy()
    composite_data = values[values["item"].isin(scheme.composites[0].items)].groupby(
        ["coder", "clip_id"])["value"].mean().unstack("clip_id").to_numpy()
    per_item = naive_bootstrap_seconds(item_data, args.baseline_resamples, "ordinal",
                                       [1, 2, 3, 4, 5]) / args.baseline_resamples
    per_composite = naive_bootstrap_seconds(composite_data, args.baseline_resamples, "interval",
                                            None) / args.baseline_resamples
    baseline = args.resamples * (per_item * len(scheme.items)
                                 + per_composite * len(scheme.composites))

    print(f"item 1 alpha {first['value']:.3f}, 95% CI {first['ci']}")
    print(f"ours:     whole reliability run (all statistics, {args.resamples} resamples "
          f"per variable): {ours:8.2f} s   (goal <= 20 s)")
    print(f"baseline: krippendorff.alpha once per resample, bootstrap only: {baseline:8.2f} s   "
          f"(timed on {args.baseline_resamples} resamples per variable type, extrapolated to "
          f"{args.resamples} x {len(scheme.items)} items + {len(scheme.composites)} composites)")
    print(f"speed-up: {baseline / ours:.1f}x   (goal >= 10x)")


if __name__ == "__main__":
    main()
