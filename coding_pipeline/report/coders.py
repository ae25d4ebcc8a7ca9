"""Report sections on the coders and the scores: Bland-Altman plots, drift over time,
certification and recalibration, consensus, score distributions. Pure: data in, HTML out."""

from __future__ import annotations

import pandas as pd

from coding_pipeline.report import plots
from coding_pipeline.report.format import esc, image, number, percent, variable_labels
from coding_pipeline.scheme import Scheme


def bland_altman_section(coder_composites: pd.DataFrame, scheme: Scheme) -> str:
    figures = []
    for composite in scheme.composites:
        rows = coder_composites[(coder_composites["composite"] == composite.id)
                                & coder_composites["value"].notna()]
        primary = rows[rows["role"].isin(["primary", ""])].drop_duplicates("clip_id")
        second = rows[rows["role"] == "reliability"].drop_duplicates("clip_id")
        paired = primary.merge(second, on="clip_id", suffixes=("_first", "_second"))
        if len(paired) < 2:
            continue
        figures.append(image(
            plots.bland_altman(paired["value_first"].to_numpy(), paired["value_second"].to_numpy(),
                               composite.label),
            f"Bland-Altman plot, {composite.label}",
        ))
    if not figures:
        return "<p class='note'>Fewer than two double-coded clips with a primary and a second " \
               "coder: no Bland-Altman plots.</p>"
    return "<div class='figures'>" + "".join(figures) + "</div>"


def drift_section(result: dict, scheme: Scheme, within_one_min: float) -> str:
    parts = []
    labels = {c.id: c.label for c in scheme.composites}
    for key, title in (("by_batch", "by batch"), ("by_month", "by month of annotation")):
        rows = result.get("drift", {}).get(key, [])
        if len(rows) < 2:
            parts.append(f"<p class='note'>Drift {title}: fewer than two groups with "
                         "double-coded clips.</p>")
            continue
        long = pd.DataFrame(
            [{"period": r["group"], "variable": "mean item alpha",
              "value": r["mean_item_alpha"]} for r in rows]
            + [{"period": r["group"], "variable": "mean item within-one",
                "value": r["mean_item_within_one_agreement"]} for r in rows]
            + [{"period": r["group"], "variable": f"{labels.get(name, name)} alpha",
                "value": found["alpha"]}
               for r in rows for name, found in r["composites"].items()]
        )
        parts.append(image(plots.drift_lines(long, "period", "value",
                                              f"Agreement {title}", within_one_min),
                            f"drift {title}"))
    return ("<p class='note'>Statistics per item and composite within each period (never "
            "pooled over items); means over items shown, every item in drift.csv.</p>"
            "<div class='figures'>" + "".join(parts) + "</div>")


def _recalibration_note(result: dict) -> str:
    flagged = [f for f in result.get("recalibration", []) if f["status"] == "recalibrate"]
    if not flagged:
        return ""
    names = ", ".join(
        f"{esc(f['coder'])} (alpha {number(f['alpha'])}, within one "
        f"{percent(f['within_one_agreement'])} over the last {f['n_clips']} double-coded "
        "clips)" for f in flagged)
    return (f"<p class='notyet'>Below the certification criteria against the other coders: "
            f"{names}. Recalibrate with <code>batch create --recalibrate CODER --master M"
            "</code>.</p>")


def _clip_kind(entry: dict) -> str:
    return "training" if entry.get("kind", "certification") == "certification" else "master-rated"


def certification_section(result: dict, scheme: Scheme) -> str:
    trainees = result.get("certification", [])
    if not trainees:
        return ("<p class='note'>No training batch has been rated yet.</p>"
                + _recalibration_note(result))
    labels = variable_labels(scheme)
    criteria = trainees[0]["criteria"]
    blocks = []
    for t in trainees:
        cells = "".join(
            f"<tr><td class='name'>{esc(labels.get(name, name))}</td>"
            f"<td>{number(found['alpha'])}</td><td>{percent(found['within_one_agreement'])}"
            f"</td><td>{percent(found['exact_agreement'])}</td><td>{found['n_clips']}</td></tr>"
            for kind in ("items", "composites") for name, found in t[kind].items())
        status = "pass" if t["status"] == "pass" else "notyet"
        why = "; ".join(t["reasons"]) or "every criterion met"
        blocks.append(
            f"<h3>{esc(t.get('kind', 'certification'))} of {esc(t['coder'])} against "
            f"{esc(t['master'])} ({esc(t.get('date') or 'no date')}): "
            f"<span class='{status}'>{esc(t['status'])}</span></h3>"
            f"<p class='note'>{t['n_clips']} {_clip_kind(t)} clips; {t['items_passing']} of "
            f"{len(t['items'])} items within-one &ge; {criteria['item_within_one_min']:.0%}; "
            f"{esc(why)}</p><table><tr><th class='name'>item / composite</th><th>alpha</th>"
            "<th>within one</th><th>exact</th><th>clips</th></tr>" + cells + "</table>")
    return (
        f"<p class='note'>Pass (study.toml [certification]): within-one agreement &ge; "
        f"{criteria['item_within_one_min']:.0%} with the master on at least "
        f"{criteria['items_share_min']:.0%} of items, alpha &ge; "
        f"{criteria['composite_alpha_min']:.2f} on every composite, at least "
        f"{criteria['min_clips']} training clips. A recertification is the same test on a "
        "recalibration set, against the master's own ratings of its clips.</p>"
        + "".join(blocks) + _recalibration_note(result))


def consensus_section(consensus: dict | None, scheme: Scheme) -> str:
    """How many clips went to consensus, on which items, how far apart; clips re-coded since."""
    if not consensus or not consensus["clips"]:
        return "<p class='note'>No clip has gone to consensus.</p>"
    labels = {i.id: i.label for i in scheme.items} | {
        f"{c.id} (composite)": f"{c.label} (composite)" for c in scheme.composites}
    items = "".join(f"<tr><td class='name'>{esc(labels.get(k, k))}</td><td>{n}</td></tr>"
                    for k, n in consensus["items"].items())
    spreads = "".join(f"<tr><td>{float(k):g}</td><td>{n}</td></tr>"
                      for k, n in consensus["spreads"].items())
    text = (f"<p>{consensus['clips']} clip(s) went to consensus. Items over the threshold "
            "(clips), and how far apart the coders were (scale points, count of items "
            "over the threshold):</p><div class='figures'><table><tr><th class='name'>item"
            f"</th><th>clips</th></tr>{items}</table><table><tr><th>apart</th><th>items</th></tr>"
            f"{spreads}</table></div>")
    recoded = consensus.get("recoded", [])
    if recoded:
        rows = "".join(
            f"<tr><td class='name'>{esc(r['batch'])}</td><td class='name'>{esc(r['clip_id'])}</td>"
            f"<td class='name'>{esc(r['email'])}</td><td class='name'>{esc(r['item'])}</td>"
            f"<td>{esc(r['was'])}</td><td>{esc(r['now'])}</td></tr>" for r in recoded)
        clips = len({(r["batch"], r["clip_id"]) for r in recoded})
        text += (f"<p class='notyet'>Re-coded after consensus: {clips} clip(s) have ratings "
                 "changed since their consensus batch was made (the consensus coder saw the "
                 "old ones).</p><table><tr><th class='name'>batch</th><th class='name'>clip</th>"
                 "<th class='name'>coder</th><th class='name'>item</th><th>was</th><th>now</th>"
                 f"</tr>{rows}</table>")
    return text


def scores_section(scores: pd.DataFrame | None, scheme: Scheme, unblinded: bool) -> str:
    if scores is None or scores.empty or scores["score"].notna().sum() == 0:
        return "<p class='note'>No scores yet.</p>"
    figures = []
    for composite in scheme.composites:
        rows = scores[scores["composite"] == composite.id]
        if rows["score"].notna().any():
            figures.append(image(plots.score_distributions(rows, composite.label, unblinded),
                                  f"score distribution, {composite.label}"))
    return "<div class='figures'>" + "".join(figures) + "</div>"
