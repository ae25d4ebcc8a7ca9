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
th { background: #f8f9fa; } td.name, th.name { text-align: left; }
tr.reliable td.alpha { background: #d1e7dd; } tr.tentative td.alpha { background: #fff3cd; }
tr.unreliable td.alpha { background: #f8d7da; } tr.undefined td.alpha { color: #6c757d; }
.pass { color: #146c43; font-weight: 600; } .notyet { color: #b02a37; font-weight: 600; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; } img { max-width: 100%; }
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


def _reliability_table(result: dict, scheme: Scheme) -> str:
    labels = {i.id: i.label for i in scheme.items} | {c.id: c.label for c in scheme.composites}
    rows = []
    for kind in ("items", "composites"):
        for name, entry in result[kind].items():
            alpha, icc = entry["alpha"], entry["icc"]
            why = "; ".join(f"{k}: {v}" for k, v in entry.get("reasons", {}).items())
            icc_text = (f"{_e(icc['form'])} {_number(icc['value'], 2)} {_interval(icc['ci'])}"
                        if icc.get("value") is not None else "&ndash;")
            rows.append(
                f'<tr class="{_e(entry["band"])}"><td class="name">{_e(labels.get(name, name))}'
                f'{" (composite)" if kind == "composites" else ""}</td>'
                f'<td class="alpha">{_number(alpha["value"])}</td>'
                f"<td>{_interval(alpha.get('ci'))}</td><td>{icc_text}</td>"
                f"<td>{_percent(entry['exact_agreement'])}</td>"
                f"<td>{_percent(entry['within_one_agreement'])}</td>"
                f"<td>{entry['n_clips']}</td><td>{entry['n_coders']}</td>"
                f'<td class="name">{_e(entry["band"])}</td>'
                f'<td class="name note">{_e(why)}</td></tr>'
            )
    return (
        "<table><tr><th class='name'>item / composite</th><th>alpha</th><th>95% CI</th>"
        "<th>ICC [95% CI]</th><th>exact</th><th>within one</th><th>clips</th><th>coders</th>"
        "<th class='name'>band</th><th class='name'>not computed</th></tr>"
        + "".join(rows) + "</table>"
    )


def _forest_rows(result: dict, scheme: Scheme) -> list[dict]:
    labels = {i.id: i.label for i in scheme.items} | {
        c.id: f"{c.label} (composite)" for c in scheme.composites}
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
        f"</td><td>{p['n_clips']}</td><td>{_number(p['kappa'])}</td>"
        f"<td>{_percent(p['exact_agreement'])}</td><td>{_percent(p['within_one_agreement'])}</td>"
        "</tr>" for p in pooled
    )
    return (
        "<div class='figures'>"
        + _image(plots.pair_heatmap(coders, kappa, "quadratic-weighted kappa, all items"),
                 "coder-pair kappa heatmap")
        + _image(plots.pair_heatmap(coders, within, "within-one agreement, all items"),
                 "coder-pair within-one agreement heatmap")
        + "</div><table><tr><th class='name'>coder</th><th class='name'>coder</th><th>clips</th>"
        "<th>weighted kappa</th><th>exact</th><th>within one</th></tr>" + table + "</table>"
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


def _drift_section(result: dict, within_one_min: float) -> str:
    parts = []
    for key, title in (("by_batch", "by batch"), ("by_month", "by month of annotation")):
        rows = result.get("drift", {}).get(key, [])
        if len(rows) < 2:
            parts.append(f"<p class='note'>Drift {title}: fewer than two groups with "
                         "double-coded clips.</p>")
            continue
        long = pd.DataFrame(
            [{"period": r["group"], "variable": "alpha (all items)", "value": r["alpha"]}
             for r in rows]
            + [{"period": r["group"], "variable": "within-one agreement",
                "value": r["within_one_agreement"]} for r in rows]
        )
        parts.append(_image(plots.drift_lines(long, "period", "value",
                                              f"Agreement {title}", within_one_min),
                            f"drift {title}"))
    return "<div class='figures'>" + "".join(parts) + "</div>"


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


def _certification_section(result: dict) -> str:
    trainees = result.get("certification", [])
    if not trainees:
        return ("<p class='note'>No training batch has been rated yet.</p>"
                + _recalibration_note(result))
    rows = "".join(
        f"<tr><td class='name'>{_e(t['coder'])}</td><td class='name'>{_e(t['master'])}</td>"
        f"<td class='name'>{_e(t.get('kind', 'certification'))}</td>"
        f"<td class='name'>{_e(t.get('batch', ''))}</td><td>{_e(t.get('date') or '')}</td>"
        f"<td>{t['n_clips']}</td><td>{_number(t['alpha'])}</td>"
        f"<td>{_percent(t['within_one_agreement'])}</td>"
        f"<td class='name {'pass' if t['status'] == 'pass' else 'notyet'}'>{_e(t['status'])}</td>"
        "</tr>" for t in trainees
    )
    thresholds = trainees[0]["thresholds"]
    return (
        f"<p class='note'>Pass: alpha &ge; {thresholds['alpha']:.2f} and within-one agreement "
        f"&ge; {100 * thresholds['within_one_agreement']:.0f}% against the master coder on the "
        "training clips (all items pooled); a recertification is the same test on a recalibration "
        "set, against the master's own ratings of its clips.</p><table><tr>"
        "<th class='name'>coder</th><th class='name'>master</th><th class='name'>kind</th>"
        "<th class='name'>batch</th><th>date</th><th>clips</th><th>alpha</th><th>within one</th>"
        "<th class='name'>status</th></tr>" + rows + "</table>" + _recalibration_note(result)
    )


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


def _scores_section(scores: pd.DataFrame | None, scheme: Scheme) -> str:
    if scores is None or scores.empty or scores["score"].notna().sum() == 0:
        return "<p class='note'>No scores yet.</p>"
    figures = []
    for composite in scheme.composites:
        rows = scores[scores["composite"] == composite.id]
        if rows["score"].notna().any():
            figures.append(_image(plots.score_distributions(rows, composite.label),
                                  f"score distribution, {composite.label}"))
    return "<div class='figures'>" + "".join(figures) + "</div>"


def render_report(
    *, study_name: str, scheme: Scheme, result: dict, coder_composites: pd.DataFrame,
    scores: pd.DataFrame | None, within_one_min: float = 0.85, generated_at: str | None = None,
    consensus: dict | None = None,
) -> str:
    """The report as one HTML document with every figure embedded as a PNG data URI."""
    generated_at = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    settings = result.get("settings", {})
    sections = [
        ("Reliability", _reliability_table(result, scheme)
         + "<p class='note'>Computed on clips rated by two or more coders. Alpha: items ordinal, "
         "composites interval (composite = mean of its items after reverse-keying); 95% interval "
         f"from {settings.get('bootstrap', '?')} bootstrap resamples of clips (seed "
         f"{settings.get('seed', '?')}). Bands (Krippendorff): &ge; .800 reliable, .667&ndash;.800 "
         "tentative, &lt; .667 unreliable. Agreement: share of coder pairs whose ratings are "
         "equal / differ by at most one scale point.</p>"),
        ("Alpha with 95% intervals", _image(plots.alpha_forest(_forest_rows(result, scheme)),
                                            "alpha with intervals per item and composite")),
        ("Coder pairs", _pairs_section(result)),
        ("Bland-Altman plots of composites", _bland_altman_section(coder_composites, scheme)),
        ("Drift over time", _drift_section(result, within_one_min)),
        ("Coder certification", _certification_section(result)),
        ("Consensus", _consensus_section(consensus, scheme)),
        ("Score distributions by arm and timepoint", _scores_section(scores, scheme)),
    ]
    body = "".join(f"<h2>{_e(title)}</h2>{content}" for title, content in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Coding report: {_e(study_name)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Coding report: {_e(study_name)}</h1>"
        f"<p class='meta'>Scheme {_e(scheme.name)} version {_e(scheme.version)} &middot; "
        f"{result.get('n_ratings', 0)} ratings &middot; generated {_e(generated_at)} by "
        "coding-pipeline</p>" + body + "</body></html>"
    )


def report_study(study: Study, warnings: list[str] | None = None) -> Path:
    """Recompute reliability and scores, and write STUDY/report.html. Returns its path.

    Conflicting duplicate ratings found on the way are appended to `warnings`.
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
    plans = load_batches(study)
    consensus = consensus_summary(plans) | {"recoded": recoded_after_consensus(clean, plans)}
    text = render_report(
        study_name=study.config.name, scheme=scheme, result=result,
        coder_composites=composites, scores=scores,
        within_one_min=study.config.within_one_min, consensus=consensus,
    )
    path = study.root / "report.html"
    write_text_atomic(path, text)
    return path
