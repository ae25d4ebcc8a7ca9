"""Benchmark: the whole reliability run, on a complete and on an incomplete design.

    .venv/bin/python scripts/bench_reliability.py [--clips 5000] [--coders 3] [--items 20]
                                                  [--resamples 1000] [--baseline-resamples 20]

1. Complete: every clip rated by every coder on a 1-5 scale (items grouped into composites of
   five). Times `compute_reliability` (alpha with its bootstrap for every item and composite,
   REML variance components and ICC forms, AC2, agreement, coder pairs and bias, D-study,
   drift) and the naive bootstrap: for each resample, draw clips with replacement and call
   `krippendorff.alpha` on them (--baseline-resamples resamples per variable, extrapolated to
   --resamples; said in the output).
2. Incomplete (issue 11): each clip rated by one of the coders in turn, one sixth of clips by
   two (rotating pairs), clips nested in sessions of ten. Times the command line
   (`coding-pipeline reliability --ratings --scheme --clips`, everything above) beside a
   statsmodels MixedLM REML fit of one item's variance components (clip, coder, residual).

    .venv/bin/python scripts/bench_reliability.py --quick --check   # 200 clips, seconds; CI

The table of figures and one JSON line per figure come last (see bench_harness.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import yaml
from bench_harness import Figure, Report, Stopwatch, cli_command, parse_args, run

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
    return ratings, scheme_data(items)


def scheme_data(items: int) -> dict:
    """The scheme of both designs: items item01.., composites of five, a 1-5 scale."""
    item_ids = [f"item{number:02d}" for number in range(1, items + 1)]
    return {
        "name": "bench", "version": 1, "scale": {"min": 1, "max": 5},
        "items": [{"id": i, "label": i} for i in item_ids],
        "composites": [{"id": f"composite{n + 1}", "label": f"Composite {n + 1}",
                        "items": item_ids[n:n + 5]} for n in range(0, items, 5)],
    }


def naive_bootstrap_seconds(data: np.ndarray, resamples: int, level: str, domain) -> float:
    """Seconds for `resamples` calls of krippendorff.alpha on clips drawn with replacement."""
    rng = np.random.default_rng(1)
    with Stopwatch() as watch:
        for _ in range(resamples):
            chosen = rng.integers(0, data.shape[1], size=data.shape[1])
            krippendorff.alpha(reliability_data=data[:, chosen], level_of_measurement=level,
                               value_domain=domain)
    return watch.timing.wall_s


def incomplete(clips: int, coders: int, items: int, seed: int = 0
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings and the clip key of the incomplete design: clips in sessions of ten, each
    rated by one coder in turn, every sixth clip also by the next coder."""
    rng = np.random.default_rng(seed)
    item_ids = [f"item{number:02d}" for number in range(1, items + 1)]
    session = np.arange(clips) // 10
    level = (3 + rng.normal(0, 0.6, session.max() + 1)[session]
             + rng.normal(0, 0.7, clips))
    bias = rng.normal(0, 0.2, coders)
    rows = []
    for clip in range(clips):
        raters = [clip % coders] + ([(clip + 1) % coders] if clip % 6 == 0 else [])
        for index, coder in enumerate(raters):
            values = np.clip(np.rint(level[clip] + bias[coder]
                                     + rng.normal(0, 0.6, items)), 1, 5).astype(int)
            rows.append(pd.DataFrame({
                "clip_id": f"clip{clip:05d}", "coder": f"coder{coder}@lab.org",
                "item": item_ids, "value": values.astype(str),
                "role": "primary" if index == 0 else "reliability",
                "batch": f"batch-{clip // 1000 + 1}"}))
    key = pd.DataFrame({"clip_id": [f"clip{c:05d}" for c in range(clips)],
                        "dyad_id": [f"D{s // 2:04d}" for s in session],
                        "timepoint": np.where(session % 2 == 0, "baseline", "post")})
    return pd.concat(rows, ignore_index=True), key


def mixedlm_seconds(ratings: pd.DataFrame, item: str) -> tuple[float, dict]:
    """Seconds for statsmodels' MixedLM REML fit of one item's clip, coder and residual
    variances on the clips rated by two or more coders, and the components."""
    import statsmodels.formula.api as smf

    rows = ratings[ratings["item"] == item].assign(value=lambda t: t["value"].astype(float))
    twice = rows.groupby("clip_id")["coder"].transform("nunique") >= 2
    rows = rows[twice].assign(group=1)
    with Stopwatch() as watch:
        model = smf.mixedlm("value ~ 1", rows, groups="group", vc_formula={
            "clip": "0 + C(clip_id)", "coder": "0 + C(coder)"})
        fitted = model.fit(reml=True)
    seconds = watch.timing.wall_s
    names = model.exog_vc.names
    components = dict(zip(names, fitted.vcomp, strict=True)) | {"residual": fitted.scale}
    return seconds, components


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=5000)
    parser.add_argument("--coders", type=int, default=3)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--baseline-resamples", type=int, default=20)
    args = parse_args(parser, quick={"clips": 200, "resamples": 50, "baseline_resamples": 3})
    report = Report()
    bench_complete(args, report)
    bench_incomplete(args, report)
    sys.exit(report.finish(args.check))


def bench_complete(args, report: Report) -> None:
    """`compute_reliability` on every clip rated by every coder, beside the naive bootstrap."""
    ratings, data = simulated(args.clips, args.coders, args.items)
    scheme = parse_scheme(data)
    print(f"1. complete: {args.clips} clips x {args.coders} coders x {args.items} items = "
          f"{len(ratings):,} ratings, {len(scheme.composites)} composites, {args.resamples} "
          f"resamples, {os.cpu_count()} CPU(s)")

    with Stopwatch() as watch:
        result = compute_reliability(ratings, scheme, bootstrap=args.resamples, seed=1)
    ours = watch.timing
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

    print(f"   item 1 alpha {first['value']:.3f}, 95% CI {first['ci']}")
    print(f"   ours:     whole reliability run (all statistics, {args.resamples} resamples "
          f"per variable): {ours.wall_s:8.2f} s, CPU {ours.cpu_s:.2f} s")
    print(f"   baseline: krippendorff.alpha once per resample, bootstrap only: {baseline:8.2f} s"
          f"   (timed on {args.baseline_resamples} resamples per variable type, extrapolated "
          f"to {args.resamples} x {len(scheme.items)} items + {len(scheme.composites)} "
          "composites)")
    name = f"complete {args.clips} clips"
    report.add(Figure(f"{name}: speed-up over krippendorff.alpha per resample (extrapolated)",
                      ours.wall_s, baseline, goal=10.0))
    report.add(Figure.within(f"{name}: whole reliability run", ours.wall_s, 20.0))


def bench_incomplete(args, report: Report) -> None:
    """The reliability command on an incomplete, nested design, beside statsmodels' MixedLM."""
    ratings, key = incomplete(args.clips, args.coders, args.items)
    scheme = parse_scheme(scheme_data(args.items))
    double = int((ratings.groupby("clip_id")["coder"].nunique() >= 2).sum())
    print(f"2. incomplete: {args.clips} clips ({double} rated by two coders), {args.coders} "
          f"coders in rotation, {args.items} items, {len(ratings):,} ratings, sessions of 10 "
          f"clips, {args.resamples} resamples")
    with tempfile.TemporaryDirectory() as folder:
        paths = {name: Path(folder) / f"{name}.csv" for name in ("ratings", "clips")}
        ratings.to_csv(paths["ratings"], index=False)
        key.to_csv(paths["clips"], index=False)
        out, scheme_path = Path(folder) / "out.json", Path(folder) / "scheme.yaml"
        scheme_path.write_text(yaml.safe_dump(scheme_data(args.items)))
        cli = run(cli_command(
            "reliability", "--ratings", str(paths["ratings"]), "--scheme", str(scheme_path),
            "--clips", str(paths["clips"]), "--bootstrap", str(args.resamples),
            "--json", str(out)))
        found = json.loads(out.read_text())
    item = scheme.items[0].id
    ours_components = found["items"][item]["variance_components"]
    seconds, theirs = mixedlm_seconds(ratings, item)
    study = found["d_study"][scheme.composites[0].id]
    print(f"   {item}: ICC(A,1) {found['items'][item]['icc']['value']:.3f}, components ours "
          + ", ".join(f"{k} {ours_components[k]:.4f}" for k in ("clip", "coder", "residual"))
          + "; MixedLM " + ", ".join(f"{k} {v:.4f}" for k, v in theirs.items()))
    print(f"   {scheme.composites[0].id} D-study: G {study['g']:.3f}, Phi {study['phi']:.3f}, "
          f"needed {study['needed']}")
    print(f"   ours:     `coding-pipeline reliability --ratings --scheme --clips` (all "
          f"statistics, {args.items} items + {len(scheme.composites)} composites, "
          f"{args.resamples} resamples, process start included): {cli.wall_s:8.2f} s, CPU "
          f"{cli.cpu_s:.2f} s")
    print(f"   baseline: statsmodels MixedLM REML, variance components of one item: "
          f"{seconds:8.2f} s")
    name = f"incomplete {args.clips} clips"
    report.add(Figure.within(f"{name}: reliability CLI, all statistics", cli.wall_s, 10.0))
    report.add(Figure(f"{name}: MixedLM (one item's components) over our CLI (everything)",
                      cli.wall_s, seconds))


if __name__ == "__main__":
    main()
