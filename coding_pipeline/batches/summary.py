"""A batch as plain text for the lab manager: clips per coder and role, pairs of coders."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from coding_pipeline.batches.coding import pair_matrix
from coding_pipeline.batches.plan import BatchPlan


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


def format_plan(plan: BatchPlan) -> str:
    """A plain-text summary of a batch for the lab manager: clips (or interviews) per coder and
    role."""
    table = plan.assignments
    units = "interviews" if plan.extra.get("unit") == "interview" else "clips"
    lines = [
        f"Batch {plan.name} ({plan.kind}), created {plan.created_at}, seed {plan.seed}",
        f"  {units}: {table['clip_id'].nunique()}"
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
                                        f"{units} double-coded by each pair of coders"))
    if plan.kind == "consensus":
        lines.append(_consensus_lines(plan))
    if plan.extra.get("recalibrate"):
        lines.append(f"  recalibration of {plan.extra['recalibrate']} against the master's "
                     f"ratings of these {units}")
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
    units = "interview(s)" if plan.extra.get("unit") == "interview" else "clip(s)"
    lines = [f"  {len(found)} {units} whose coders differ by more than "
             f"{plan.extra.get('threshold', 1):g} scale point(s) on {what}"]
    if per:
        lines.append("  over the threshold: " + ", ".join(f"{k} {n}" for k, n in per.items()))
        lines.append("  how far apart: " + ", ".join(
            f"{spread:g} points x {n}" for spread, n in sorted(spreads.items())))
    return "\n".join(lines)
