"""The study report: one self-contained HTML file (figures embedded, nothing from the network).

`render_report` is pure (data in, HTML text out); `report_study` gathers the study's ratings,
reliability and scores, and writes STUDY/report.html.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from coding_pipeline.report import plots
from coding_pipeline.scheme import Scheme, load_scheme
from coding_pipeline.study import Study, read_table, write_text_atomic

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #212529; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; font-size: 1.25rem;
border-bottom: 1px solid #dee2e6; padding-bottom: .2rem; }
.meta, .note { color: #6c757d; font-size: .9rem; }
table { border-collapse: collapse; font-size: .85rem; margin: .6rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e9ecef; text-align: right; }
th { background: #f8f9fa; } td.name, th.name { text-align: left; } td { white-space: nowrap; }
td.name { white-space: normal; }
tr.reliable td.alpha { background: #d1e7dd; } tr.tentative td.alpha { background: #fff3cd; }
tr.unreliable td.alpha { background: #f8d7da; } tr.undefined td.alpha { color: #6c757d; }
.pass { color: #146c43; font-weight: 600; } .notyet { color: #b02a37; font-weight: 600; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; } img { max-width: 100%; }
h3 { font-size: 1rem; margin: 1.2rem 0 .2rem; }
p.methods { background: #f8f9fa; border-left: 4px solid #0d6efd; padding: .6rem .9rem; }
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value, digits: int = 3) -> str:
    return "&ndash;" if value is None or (isinstance(value, float) and np.isnan(value)) \
        else f"{value:.{digits}f}"


def _percent(value) -> str:
    return "&ndash;" if value is None else f"{100 * value:.0f}%"


def _interval(ci) -> str:
    return "&ndash;" if not ci or ci[0] is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def _image(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{_e(alt)}">'


EXPLANATIONS = (
    ("Krippendorff's alpha", "agreement corrected for chance, from the coincidences of all "
     "coders' ratings (ordinal for items, interval for composites); 1 = perfect, 0 = chance."),
    ("ICC(A,1)", "absolute agreement of a single coder: clip variance / (clip + coder + "
     "residual variance), from REML variance components (ten Hove et al. 2022); coder "
     "differences in leniency count as disagreement."),
    ("ICC(C,1)", "consistency of a single coder: clip / (clip + residual); ignores a coder's "
     "constant leniency."),
    ("ICC(A,k), ICC(C,k)", "the same for the mean of the k coders a clip score averages under "
     "the scoring policy."),
    ("ICC(1)", "one-way ICC: coders and error pooled, for comparison with older reports."),
    ("Gwet's AC2", "weighted agreement corrected for chance in a way that stays stable when "
     "most ratings fall in one or two categories (where alpha and kappa collapse)."),
    ("Weighted kappa", "Cohen's kappa of one coder pair with linear or quadratic weights."),
    ("Exact / within one", "share of coder pairs giving the same rating / ratings at most one "
     "scale point apart."),
    ("Bias", "a coder's mean difference from the other coders on the clips they shared."),
    ("G and Phi", "reliability of the analysed session score (mean over clips, and coders), "
     "relative (G, rank order) and absolute (Phi), from a generalizability study."),
    ("Bands", "alpha: >= .800 reliable, .667-.800 tentative, < .667 unreliable; ICC (Koo & Li "
     "2016): > .90 excellent, .75-.90 good, .50-.75 moderate, < .50 poor; shown for the point "
     "estimate and for the interval's lower bound."),
)


def _explanations() -> str:
    return "<ul class='note'>" + "".join(
        f"<li><b>{_e(name)}</b>: {_e(text)}</li>" for name, text in EXPLANATIONS) + "</ul>"


def _labels(scheme: Scheme) -> dict[str, str]:
    return {i.id: i.label for i in scheme.items} | {
        c.id: f"{c.label} (composite)" for c in scheme.composites}


def _reliability_table(result: dict, scheme: Scheme) -> str:
    labels = _labels(scheme)
    rows = []
    for kind in ("items", "composites"):
        for name, entry in result[kind].items():
            alpha, icc = entry["alpha"], entry["icc"]
            why = "; ".join(f"{k}: {v}" for k, v in entry.get("reasons", {}).items())
            icc_text = (f"{_number(icc['value'], 2)} {_interval(icc['ci'])}"
                        if icc.get("value") is not None else "&ndash;")
            ac2 = entry.get("gwet_ac2")
            ac2_text = ("" if ac2 is None else
                        f"{_number(ac2['value'], 2)} {_interval(ac2['ci'])}"
                        if ac2["value"] is not None else "&ndash;")
            rows.append(
                f'<tr class="{_e(entry["band"])}"><td class="name">{_e(labels.get(name, name))}'
                f'</td><td class="alpha">{_number(alpha["value"])}</td>'
                f"<td>{_interval(alpha.get('ci'))}</td>"
                f'<td class="name">{_e(entry["band"])} / {_e(entry.get("band_lower", ""))}</td>'
                f"<td>{icc_text}</td>"
                f'<td class="name">{_e(icc.get("band", ""))} / {_e(icc.get("band_lower", ""))}'
                f"</td><td>{ac2_text}</td>"
                f"<td>{_percent(entry['exact_agreement'])}</td>"
                f"<td>{_percent(entry['within_one_agreement'])}</td>"
                f"<td>{entry['n_clips']}</td><td>{entry['n_coders']}</td>"
                f'<td class="name note">{_e(why)}</td></tr>'
            )
    return (
        "<table><tr><th class='name'>item / composite</th><th>alpha</th><th>95% CI</th>"
        "<th class='name'>band (point / lower)</th><th>ICC(A,1) [95% CI]</th>"
        "<th class='name'>ICC band (point / lower)</th><th>AC2 [95% CI]</th><th>exact</th>"
        "<th>within one</th><th>clips</th><th>coders</th><th class='name'>not computed</th>"
        "</tr>" + "".join(rows) + "</table>"
    )


def _icc_forms_table(result: dict, scheme: Scheme) -> str:
    labels = _labels(scheme)
    forms = ("ICC(A,1)", "ICC(C,1)", "ICC(A,k)", "ICC(C,k)", "ICC(1)")
    rows, methods = [], set()
    for kind in ("items", "composites"):
        for name, entry in result[kind].items():
            found = entry["icc_forms"]
            cells = []
            for form in forms:
                value = found.get(form, {})
                if value.get("ci_method"):
                    methods.add(value["ci_method"])
                cells.append(f"<td>{_number(value.get('value'), 2)} {_interval(value.get('ci'))}"
                             "</td>" if value.get("value") is not None else "<td>&ndash;</td>")
            components = entry["variance_components"]
            k = found.get("ICC(A,k)", {}).get("k")
            rows.append(
                f"<tr><td class='name'>{_e(labels.get(name, name))}</td>" + "".join(cells)
                + f"<td>{'&ndash;' if k is None else f'{k:g}'}</td>"
                + "".join(f"<td>{_number(components.get(c))}</td>"
                          for c in ("clip", "coder", "residual")) + "</tr>")
    k_basis = next((e["icc_forms"]["ICC(A,k)"]["k_basis"]
                    for kind in ("items", "composites") for e in result[kind].values()
                    if "ICC(A,k)" in e["icc_forms"]), "")
    return (
        "<table><tr><th class='name'>item / composite</th>"
        + "".join(f"<th>{f} [95% CI]</th>" for f in forms)
        + "<th>k</th><th>clip var.</th><th>coder var.</th><th>residual var.</th></tr>"
        + "".join(rows) + "</table>"
        f"<p class='note'>k: {_e(k_basis)}. Variance components by REML on the clips rated by "
        "two or more coders. Intervals: " + _e("; ".join(sorted(methods))) + ".</p>"
    )


def _d_study_section(result: dict, scheme: Scheme) -> str:
    studies = result.get("d_study", {})
    if not studies:
        return f"<p class='note'>{_e(result.get('d_study_reason', 'No D-study.'))}</p>"
    labels = {c.id: c.label for c in scheme.composites}
    figures, rows = [], []
    for name, found in studies.items():
        if "g" not in found:
            rows.append(f"<tr><td class='name'>{_e(labels.get(name, name))}</td>"
                        f"<td colspan='6' class='name note'>{_e(found.get('reason', ''))}</td>"
                        "</tr>")
            continue
        needed = found["needed"]
        g_min = needed[0]["g_min"]
        figures.append(_image(plots.d_study(found["table"], found["design"], g_min,
                                            labels.get(name, name)),
                              f"D-study, G against clips per session, {labels.get(name, name)}"))
        c = found["components"]
        rows.append(
            f"<tr><td class='name'>{_e(labels.get(name, name))}</td>"
            f"<td>{found['design']['clips_per_session']:g} x "
            f"{found['design']['coders_per_clip']:g}</td>"
            f"<td>{_number(found['g'], 2)}</td><td>{_number(found['phi'], 2)}</td>"
            + "".join(f"<td>{n['clips_per_session'] or '&gt; 200'}</td>" for n in needed)
            + "<td class='name note'>" + ", ".join(
                f"{k} {_number(c[k])}" for k in ("session", "clip_in_session", "coder",
                                                 "session_x_coder", "residual")) + "</td></tr>")
    g_min = next((f["needed"][0]["g_min"] for f in studies.values() if "needed" in f), 0.8)
    return (
        "<p class='note'>The analysed score is a session's (dyad x timepoint) mean over its "
        "clips. Its reliability follows from a generalizability study of clips nested in "
        "sessions, crossed with coders ((c:s) x r, Brennan 2001): G = s / (s + c:s/n + sr/k + "
        "e/(n k)), Phi adds the coder variance r/k, for n clips per session and k coders per "
        "clip.</p><div class='figures'>" + "".join(figures) + "</div>"
        "<table><tr><th class='name'>composite</th><th>design (clips x coders)</th><th>G</th>"
        f"<th>Phi</th><th>clips for G &ge; {g_min:.2f}, 1 coder</th><th>clips, 2 coders</th>"
        "<th class='name'>variance components (REML)</th></tr>" + "".join(rows) + "</table>"
    )


def _bias_section(result: dict, scheme: Scheme) -> str:
    labels = _labels(scheme)
    rows = [
        f"<tr><td class='name'>{_e(labels.get(name, name))}</td><td class='name'>"
        f"{_e(row['coder'])}</td><td>{_number(row['mean_difference'], 2)}</td>"
        f"<td>{_interval(row['ci'])}</td><td>{row['n_clips']}</td></tr>"
        for name, found in result.get("bias", {}).items() for row in found
        if name in {c.id for c in scheme.composites}]
    if not rows:
        return "<p class='note'>No coder shared a clip with another coder.</p>"
    return ("<p class='note'>Per composite (items in reliability.json): the coder's mean "
            "difference from the other coders on shared clips, with a 95% t interval.</p>"
            "<table><tr><th class='name'>composite</th><th class='name'>coder</th>"
            "<th>bias</th><th>95% CI</th><th>clips</th></tr>" + "".join(rows) + "</table>")


def _forest_rows(result: dict, scheme: Scheme) -> list[dict]:
    labels = _labels(scheme)
    rows = []
    for kind in ("items", "composites"):
        for name, entry in result[kind].items():
            ci = entry["alpha"].get("ci") or [None, None]
            rows.append({"label": labels.get(name, name), "value": entry["alpha"]["value"],
                         "lo": ci[0], "hi": ci[1]})
    return rows


def _pairs_section(result: dict) -> str:
    pooled = [p for p in result["pairs"] if p["item"] is None]
    if not pooled:
        return "<p class='note'>No two coders rated the same clip.</p>"
    coders = sorted({c for p in pooled for c in p["coders"]})
    kappa = {tuple(p["coders"]): p["kappa"] for p in pooled}
    within = {tuple(p["coders"]): p["within_one_agreement"] for p in pooled}
    table = "".join(
        f"<tr><td class='name'>{_e(p['coders'][0])}</td><td class='name'>{_e(p['coders'][1])}"
        f"</td><td>{p['n_clips']}</td>"
        + "".join(f"<td>{_number(p['weighted_kappa'][w]['value'])} "
                  f"{_interval(p['weighted_kappa'][w]['ci'])}</td>"
                  for w in ("linear", "quadratic"))
        + f"<td>{_percent(p['exact_agreement'])}</td><td>{_percent(p['within_one_agreement'])}"
        "</td></tr>" for p in pooled
    )
    return (
        "<div class='figures'>"
        + _image(plots.pair_heatmap(coders, kappa, "quadratic-weighted kappa, all items"),
                 "coder-pair kappa heatmap")
        + _image(plots.pair_heatmap(coders, within, "within-one agreement, all items"),
                 "coder-pair within-one agreement heatmap")
        + "</div><table><tr><th class='name'>coder</th><th class='name'>coder</th><th>clips</th>"
        "<th>linear kappa [95% CI]</th><th>quadratic kappa [95% CI]</th><th>exact</th>"
        "<th>within one</th></tr>" + table + "</table><p class='note'>All items pooled; per "
        "item in pairs.csv. Intervals from Gwet's (2014) standard error.</p>"
    )


def _bland_altman_section(coder_composites: pd.DataFrame, scheme: Scheme) -> str:
    figures = []
    for composite in scheme.composites:
        rows = coder_composites[(coder_composites["composite"] == composite.id)
                                & coder_composites["value"].notna()]
        primary = rows[rows["role"].isin(["primary", ""])].drop_duplicates("clip_id")
        second = rows[rows["role"] == "reliability"].drop_duplicates("clip_id")
        paired = primary.merge(second, on="clip_id", suffixes=("_first", "_second"))
        if len(paired) < 2:
            continue
        figures.append(_image(
            plots.bland_altman(paired["value_first"].to_numpy(), paired["value_second"].to_numpy(),
                               composite.label),
            f"Bland-Altman plot, {composite.label}",
        ))
    if not figures:
        return "<p class='note'>Fewer than two double-coded clips with a primary and a second " \
               "coder: no Bland-Altman plots.</p>"
    return "<div class='figures'>" + "".join(figures) + "</div>"


def _drift_section(result: dict, scheme: Scheme, within_one_min: float) -> str:
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
        parts.append(_image(plots.drift_lines(long, "period", "value",
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
        f"{_e(f['coder'])} (alpha {_number(f['alpha'])}, within one "
        f"{_percent(f['within_one_agreement'])} over the last {f['n_clips']} double-coded "
        "clips)" for f in flagged)
    return (f"<p class='notyet'>Below the certification criteria against the other coders: "
            f"{names}. Recalibrate with <code>batch create --recalibrate CODER --master M"
            "</code>.</p>")


def _clip_kind(entry: dict) -> str:
    return "training" if entry.get("kind", "certification") == "certification" else "master-rated"


def _certification_section(result: dict, scheme: Scheme) -> str:
    trainees = result.get("certification", [])
    if not trainees:
        return ("<p class='note'>No training batch has been rated yet.</p>"
                + _recalibration_note(result))
    labels = _labels(scheme)
    criteria = trainees[0]["criteria"]
    blocks = []
    for t in trainees:
        cells = "".join(
            f"<tr><td class='name'>{_e(labels.get(name, name))}</td>"
            f"<td>{_number(found['alpha'])}</td><td>{_percent(found['within_one_agreement'])}"
            f"</td><td>{_percent(found['exact_agreement'])}</td><td>{found['n_clips']}</td></tr>"
            for kind in ("items", "composites") for name, found in t[kind].items())
        status = "pass" if t["status"] == "pass" else "notyet"
        why = "; ".join(t["reasons"]) or "every criterion met"
        blocks.append(
            f"<h3>{_e(t.get('kind', 'certification'))} of {_e(t['coder'])} against "
            f"{_e(t['master'])} ({_e(t.get('date') or 'no date')}): "
            f"<span class='{status}'>{_e(t['status'])}</span></h3>"
            f"<p class='note'>{t['n_clips']} {_clip_kind(t)} clips; {t['items_passing']} of "
            f"{len(t['items'])} items within-one &ge; {criteria['item_within_one_min']:.0%}; "
            f"{_e(why)}</p><table><tr><th class='name'>item / composite</th><th>alpha</th>"
            "<th>within one</th><th>exact</th><th>clips</th></tr>" + cells + "</table>")
    return (
        f"<p class='note'>Pass (study.toml [certification]): within-one agreement &ge; "
        f"{criteria['item_within_one_min']:.0%} with the master on at least "
        f"{criteria['items_share_min']:.0%} of items, alpha &ge; "
        f"{criteria['composite_alpha_min']:.2f} on every composite, at least "
        f"{criteria['min_clips']} training clips. A recertification is the same test on a "
        "recalibration set, against the master's own ratings of its clips.</p>"
        + "".join(blocks) + _recalibration_note(result))


def _consensus_section(consensus: dict | None, scheme: Scheme) -> str:
    """How many clips went to consensus, on which items, how far apart; clips re-coded since."""
    if not consensus or not consensus["clips"]:
        return "<p class='note'>No clip has gone to consensus.</p>"
    labels = {i.id: i.label for i in scheme.items} | {
        f"{c.id} (composite)": f"{c.label} (composite)" for c in scheme.composites}
    items = "".join(f"<tr><td class='name'>{_e(labels.get(k, k))}</td><td>{n}</td></tr>"
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
            f"<tr><td class='name'>{_e(r['batch'])}</td><td class='name'>{_e(r['clip_id'])}</td>"
            f"<td class='name'>{_e(r['email'])}</td><td class='name'>{_e(r['item'])}</td>"
            f"<td>{_e(r['was'])}</td><td>{_e(r['now'])}</td></tr>" for r in recoded)
        clips = len({(r["batch"], r["clip_id"]) for r in recoded})
        text += (f"<p class='notyet'>Re-coded after consensus: {clips} clip(s) have ratings "
                 "changed since their consensus batch was made (the consensus coder saw the "
                 "old ones).</p><table><tr><th class='name'>batch</th><th class='name'>clip</th>"
                 "<th class='name'>coder</th><th class='name'>item</th><th>was</th><th>now</th>"
                 f"</tr>{rows}</table>")
    return text


def _scores_section(scores: pd.DataFrame | None, scheme: Scheme, unblinded: bool) -> str:
    if scores is None or scores.empty or scores["score"].notna().sum() == 0:
        return "<p class='note'>No scores yet.</p>"
    figures = []
    for composite in scheme.composites:
        rows = scores[scores["composite"] == composite.id]
        if rows["score"].notna().any():
            figures.append(_image(plots.score_distributions(rows, composite.label, unblinded),
                                  f"score distribution, {composite.label}"))
    return "<div class='figures'>" + "".join(figures) + "</div>"


def render_report(
    *, study_name: str, scheme: Scheme, result: dict, coder_composites: pd.DataFrame,
    scores: pd.DataFrame | None, within_one_min: float = 0.85, generated_at: str | None = None,
    unblinded: bool = False,
    consensus: dict | None = None,
) -> str:
    """The report as one HTML document with every figure embedded as a PNG data URI.

    Blinded by default: no trial arm anywhere (scores by timepoint only). `unblinded` adds
    the score distributions by arm and says so in the title."""
    generated_at = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    settings = result.get("settings", {})
    scores_title = ("Score distributions by arm and timepoint" if unblinded
                    else "Score distributions by timepoint")
    sections = [
        ("Methods", f"<p class='methods'>{_e(result.get('methods_text', ''))}</p>"
         "<p class='note'>A paragraph to paste into a methods section (also in "
         "reliability/reliability.json as methods_text).</p>"),
        ("Reliability", _reliability_table(result, scheme)
         + "<p class='note'>Computed on clips rated by two or more coders "
         f"({result.get('n_clips_double_coded', '?')} of {result.get('n_clips', '?')} clips). "
         "Alpha: items ordinal, composites interval (composite = mean of its items after "
         f"reverse-keying); 95% interval from {settings.get('bootstrap', '?')} bootstrap "
         f"resamples of clips (seed {settings.get('seed', '?')}). AC2 with "
         f"{_e(settings.get('ac2_weights', 'quadratic'))} weights.</p>" + _explanations()),
        ("ICC forms and variance components", _icc_forms_table(result, scheme)),
        ("Reliability of session scores (D-study)", _d_study_section(result, scheme)),
        ("Alpha with 95% intervals", _image(plots.alpha_forest(_forest_rows(result, scheme)),
                                            "alpha with intervals per item and composite")),
        ("Coder pairs", _pairs_section(result)),
        ("Coder bias", _bias_section(result, scheme)),
        ("Bland-Altman plots of composites", _bland_altman_section(coder_composites, scheme)),
        ("Drift over time", _drift_section(result, scheme, within_one_min)),
        ("Coder certification", _certification_section(result, scheme)),
        ("Consensus", _consensus_section(consensus, scheme)),
        (scores_title, _scores_section(scores, scheme, unblinded)),
    ]
    body = "".join(f"<h2>{_e(title)}</h2>{content}" for title, content in sections)
    title = (f"Coding report (UNBLINDED: shows trial arms, for analysts only): {study_name}"
             if unblinded else f"Coding report: {study_name}")
    blinding = ("Unblinded: scores are broken down by trial arm. Do not show this report to "
                "coders." if unblinded else
                "Blinded: no trial arm is shown anywhere in this report.")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f"<p class='meta'>Scheme {_e(scheme.name)} version {_e(scheme.version)} &middot; "
        f"{result.get('n_ratings', 0)} ratings &middot; generated {_e(generated_at)} by "
        f"coding-pipeline &middot; {_e(blinding)}</p>" + body + "</body></html>"
    )


def report_study(study: Study, warnings: list[str] | None = None,
                 unblinded: bool = False) -> Path:
    """Recompute reliability and scores, and write STUDY/report.html (blinded unless
    `unblinded`). Returns its path.

    Problems with the ratings found on the way are appended to `warnings`.
    """
    from coding_pipeline.batches import load_batches
    from coding_pipeline.consensus import consensus_summary, recoded_after_consensus
    from coding_pipeline.reliability import reliability_study
    from coding_pipeline.scores import (
        RELIABILITY_ROLES,
        REQUIRED_RATING_COLUMNS,
        clean_ratings,
        coder_composites,
        score_study,
    )

    scheme = load_scheme(study.scheme_path)
    result = reliability_study(study)
    if warnings is not None:
        warnings.extend(result.get("warnings", []))
    ratings = read_table(study.ratings_csv, REQUIRED_RATING_COLUMNS,
                         f"run `coding-pipeline pull {study.root}` first")
    clean = clean_ratings(ratings, scheme, source=str(study.ratings_csv))
    independent = clean[clean["role"].isin(RELIABILITY_ROLES)]
    composites = coder_composites(independent, scheme, study.config.min_item_share)
    written = score_study(study)
    long_path = next((p for p in written.values() if p.name == "dyad_scores.csv"), None)
    scores = pd.read_csv(long_path, keep_default_na=False, na_values=[""]) if long_path else None
    if scores is not None:
        scores = scores.assign(arm=scores["arm"].fillna("").astype(str),
                               timepoint=scores["timepoint"].astype(str))
        if not unblinded:
            scores = scores.drop(columns="arm")
    plans = load_batches(study)
    consensus = consensus_summary(plans) | {"recoded": recoded_after_consensus(clean, plans)}
    text = render_report(
        study_name=study.config.name, scheme=scheme, result=result,
        coder_composites=composites, scores=scores,
        within_one_min=study.config.within_one_min, unblinded=unblinded, consensus=consensus,
    )
    path = study.root / "report.html"
    write_text_atomic(path, text)
    return path
