"""The report's figures, each returned as a PNG data URI to embed in self-contained HTML.

Every function takes plain data (lists, dicts, data frames) and draws one figure with
matplotlib's non-interactive Agg backend; nothing is read from or written to disk.
"""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ALPHA_BANDS = ((0.667, "#f8d7da"), (0.80, "#fff3cd"), (1.0, "#d1e7dd"))  # upper end, colour


def _to_data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def alpha_forest(rows: list[dict]) -> str:
    """Alpha with its 95% interval per variable, over the field's bands.

    rows: dicts with label, value (float or None), lo, hi (None when undefined).
    """
    defined = [r for r in rows if r["value"] is not None]
    height = 0.9 + 0.32 * max(len(rows), 1)
    figure, axes = plt.subplots(figsize=(7.5, height))
    lows = [r["lo"] for r in defined if r["lo"] is not None] + [r["value"] for r in defined]
    left = min([0.0, *lows]) - 0.05
    start = left
    for end, colour in ALPHA_BANDS:
        axes.axvspan(start, end, color=colour, zorder=0)
        start = end
    for position, row in enumerate(reversed(rows)):
        if row["value"] is None:
            axes.text(0.01, position, "undefined", va="center", fontsize=8, color="#6c757d")
            continue
        if row["lo"] is not None and row["hi"] is not None:
            axes.plot([row["lo"], row["hi"]], [position, position], color="#212529", lw=1.4)
        axes.plot(row["value"], position, "o", color="#0d6efd", ms=6)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([r["label"] for r in reversed(rows)], fontsize=8)
    axes.set_xlim(left, 1.0)
    axes.set_ylim(-0.7, len(rows) - 0.3)
    axes.set_xlabel("Krippendorff's alpha (95% bootstrap interval)")
    axes.axvline(0.667, color="#6c757d", lw=0.6, ls=":")
    axes.axvline(0.80, color="#6c757d", lw=0.6, ls=":")
    return _to_data_uri(figure)


def pair_heatmap(coders: list[str], values: dict[tuple[str, str], float | None], title: str) -> str:
    """A coder x coder matrix of one agreement statistic (symmetric; blank where undefined)."""
    size = len(coders)
    matrix = np.full((size, size), np.nan)
    for (a, b), value in values.items():
        if value is None or a not in coders or b not in coders:
            continue
        i, j = coders.index(a), coders.index(b)
        matrix[i, j] = matrix[j, i] = value
    side = 2.2 + 0.75 * size
    figure, axes = plt.subplots(figsize=(side + 1.2, side))
    image = axes.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    for i in range(size):
        for j in range(size):
            if not math.isnan(matrix[i, j]):
                colour = "white" if matrix[i, j] < 0.6 else "black"
                axes.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center",
                          fontsize=8, color=colour)
    axes.set_xticks(range(size))
    axes.set_yticks(range(size))
    axes.set_xticklabels(coders, rotation=40, ha="right", fontsize=8)
    axes.set_yticklabels(coders, fontsize=8)
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    return _to_data_uri(figure)


def bland_altman(first: np.ndarray, second: np.ndarray, title: str) -> str:
    """Bland-Altman plot of two coders' composites on the same clips.

    x = mean of the two ratings, y = first - second; lines at the mean difference (bias) and
    at bias +/- 1.96 SD (the 95% limits of agreement; Bland & Altman 1986).
    """
    first, second = np.asarray(first, float), np.asarray(second, float)
    mean, difference = (first + second) / 2, first - second
    bias = float(difference.mean())
    spread = 1.96 * float(difference.std(ddof=1)) if len(difference) > 1 else 0.0
    figure, axes = plt.subplots(figsize=(5.2, 3.6))
    axes.scatter(mean, difference, s=16, alpha=0.7, color="#0d6efd")
    axes.axhline(bias, color="#212529", lw=1, label=f"bias {bias:+.2f}")
    for limit in (bias - spread, bias + spread):
        axes.axhline(limit, color="#dc3545", lw=0.9, ls="--")
    axes.set_xlabel("mean of the two coders")
    axes.set_ylabel("primary - second coder")
    axes.set_title(f"{title} (n = {len(difference)}; limits {bias - spread:+.2f} to "
                   f"{bias + spread:+.2f})", fontsize=9)
    axes.legend(fontsize=8, loc="upper right")
    return _to_data_uri(figure)


def drift_lines(table: pd.DataFrame, period: str, value: str, title: str,
                threshold: float | None = None) -> str:
    """One line per variable of a statistic over periods (batches or months)."""
    figure, axes = plt.subplots(figsize=(7.0, 3.4))
    periods = list(dict.fromkeys(table[period]))
    for variable, rows in table.groupby("variable", sort=False):
        rows = rows.set_index(period).reindex(periods)
        axes.plot(range(len(periods)), rows[value].astype(float), marker="o", label=variable)
    if threshold is not None:
        axes.axhline(threshold, color="#6c757d", lw=0.8, ls=":")
    axes.set_xticks(range(len(periods)))
    axes.set_xticklabels(periods, rotation=30, ha="right", fontsize=8)
    axes.set_ylabel(value.replace("_", " "))
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, ncols=2, loc="lower left")
    return _to_data_uri(figure)


def score_distributions(scores: pd.DataFrame, composite_label: str, by_arm: bool = False) -> str:
    """Box plots with points of one composite's dyad scores by timepoint; one box per arm
    only when `by_arm` (an unblinded report)."""
    timepoints = list(dict.fromkeys(scores["timepoint"]))
    if by_arm:
        scores = scores.assign(arm=scores["arm"].fillna("").replace("", "all"))
    else:
        scores = scores.assign(arm="all")
    arms = list(dict.fromkeys(scores["arm"]))
    figure, axes = plt.subplots(figsize=(6.4, 3.4))
    width = 0.8 / max(len(arms), 1)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    rng = np.random.default_rng(0)
    for k, arm in enumerate(arms):
        positions, data = [], []
        for t, timepoint in enumerate(timepoints):
            values = scores.loc[(scores["timepoint"] == timepoint) & (scores["arm"] == arm),
                                "score"].dropna().astype(float).to_numpy()
            if len(values):
                positions.append(t + (k - (len(arms) - 1) / 2) * width)
                data.append(values)
        if not data:
            continue
        parts = axes.boxplot(data, positions=positions, widths=width * 0.8, patch_artist=True,
                             showfliers=False)
        for box in parts["boxes"]:
            box.set_facecolor(colours[k % len(colours)])
            box.set_alpha(0.35)
        for position, values in zip(positions, data, strict=True):
            jitter = rng.uniform(-width * 0.2, width * 0.2, len(values))
            axes.plot(position + jitter, values, ".", color=colours[k % len(colours)], ms=5)
        axes.plot([], [], "s", color=colours[k % len(colours)], label=str(arm))
    axes.set_xticks(range(len(timepoints)))
    axes.set_xticklabels(timepoints)
    axes.set_ylabel("dyad score")
    axes.set_title(composite_label, fontsize=10)
    if len(arms) > 1:
        axes.legend(fontsize=8, title="arm", title_fontsize=8)
    return _to_data_uri(figure)


def d_study(table: list[dict], design: dict, g_min: float, title: str) -> str:
    """G of the session score against clips per session, one line per number of coders per
    clip, with the target G and the study's design marked."""
    figure, axes = plt.subplots(figsize=(4.6, 3.3))
    frame = pd.DataFrame(table)
    for coders, rows in frame.groupby("coders_per_clip"):
        axes.plot(rows["clips_per_session"], rows["g"], marker="o", ms=3,
                  label=f"{coders} coder{'s' if coders > 1 else ''} per clip")
    axes.axhline(g_min, color="#6c757d", lw=0.8, ls=":", label=f"G = {g_min:.2f}")
    axes.axvline(design["clips_per_session"], color="#dc3545", lw=0.8, ls="--",
                 label=f"this study: {design['clips_per_session']:g} clips")
    axes.set_xlabel("clips per session")
    axes.set_ylabel("G (relative) of the session score")
    axes.set_ylim(0, 1)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="lower right")
    return _to_data_uri(figure)
