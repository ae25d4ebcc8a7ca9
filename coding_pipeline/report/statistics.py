"""Report sections on the agreement statistics: the reliability table and what each
statistic means, the ICC forms and variance components, the D-study, alpha's forest plot,
coder pairs and coder bias. Pure: a reliability result in, HTML out."""

from __future__ import annotations

from coding_pipeline.report import plots
from coding_pipeline.report.format import esc, image, interval, number, percent, variable_labels
from coding_pipeline.scheme import Scheme

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


def explanations() -> str:
    return "<ul class='note'>" + "".join(
        f"<li><b>{esc(name)}</b>: {esc(text)}</li>" for name, text in EXPLANATIONS) + "</ul>"


def reliability_table(result: dict, scheme: Scheme) -> str:
    labels = variable_labels(scheme)
    rows = []
    for kind in ("items", "composites"):
        for name, entry in result[kind].items():
            alpha, icc = entry["alpha"], entry["icc"]
            why = "; ".join(f"{k}: {v}" for k, v in entry.get("reasons", {}).items())
            icc_text = (f"{number(icc['value'], 2)} {interval(icc['ci'])}"
                        if icc.get("value") is not None else "&ndash;")
            ac2 = entry.get("gwet_ac2")
            ac2_text = ("" if ac2 is None else
                        f"{number(ac2['value'], 2)} {interval(ac2['ci'])}"
                        if ac2["value"] is not None else "&ndash;")
            rows.append(
                f'<tr class="{esc(entry["band"])}"><td class="name">{esc(labels.get(name, name))}'
                f'</td><td class="alpha">{number(alpha["value"])}</td>'
                f"<td>{interval(alpha.get('ci'))}</td>"
                f'<td class="name">{esc(entry["band"])} / {esc(entry.get("band_lower", ""))}</td>'
                f"<td>{icc_text}</td>"
                f'<td class="name">{esc(icc.get("band", ""))} / {esc(icc.get("band_lower", ""))}'
                f"</td><td>{ac2_text}</td>"
                f"<td>{percent(entry['exact_agreement'])}</td>"
                f"<td>{percent(entry['within_one_agreement'])}</td>"
                f"<td>{entry['n_clips']}</td><td>{entry['n_coders']}</td>"
                f'<td class="name note">{esc(why)}</td></tr>'
            )
    units = "interviews" if result.get("unit") == "interview" else "clips"
    return (
        "<table><tr><th class='name'>item / composite</th><th>alpha</th><th>95% CI</th>"
        "<th class='name'>band (point / lower)</th><th>ICC(A,1) [95% CI]</th>"
        "<th class='name'>ICC band (point / lower)</th><th>AC2 [95% CI]</th><th>exact</th>"
        f"<th>within one</th><th>{units}</th><th>coders</th>"
        "<th class='name'>not computed</th>"
        "</tr>" + "".join(rows) + "</table>"
    )


def icc_forms_table(result: dict, scheme: Scheme) -> str:
    labels = variable_labels(scheme)
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
                cells.append(f"<td>{number(value.get('value'), 2)} {interval(value.get('ci'))}"
                             "</td>" if value.get("value") is not None else "<td>&ndash;</td>")
            components = entry["variance_components"]
            k = found.get("ICC(A,k)", {}).get("k")
            rows.append(
                f"<tr><td class='name'>{esc(labels.get(name, name))}</td>" + "".join(cells)
                + f"<td>{'&ndash;' if k is None else f'{k:g}'}</td>"
                + "".join(f"<td>{number(components.get(c))}</td>"
                          for c in ("clip", "coder", "residual")) + "</tr>")
    k_basis = next((e["icc_forms"]["ICC(A,k)"]["k_basis"]
                    for kind in ("items", "composites") for e in result[kind].values()
                    if "ICC(A,k)" in e["icc_forms"]), "")
    return (
        "<table><tr><th class='name'>item / composite</th>"
        + "".join(f"<th>{f} [95% CI]</th>" for f in forms)
        + "<th>k</th><th>clip var.</th><th>coder var.</th><th>residual var.</th></tr>"
        + "".join(rows) + "</table>"
        f"<p class='note'>k: {esc(k_basis)}. Variance components by REML on the clips rated by "
        "two or more coders. Intervals: " + esc("; ".join(sorted(methods))) + ".</p>"
    )


def d_study_section(result: dict, scheme: Scheme) -> str:
    studies = result.get("d_study", {})
    if not studies:
        return f"<p class='note'>{esc(result.get('d_study_reason', 'No D-study.'))}</p>"
    labels = {c.id: c.label for c in scheme.composites}
    figures, rows = [], []
    for name, found in studies.items():
        if "g" not in found:
            rows.append(f"<tr><td class='name'>{esc(labels.get(name, name))}</td>"
                        f"<td colspan='6' class='name note'>{esc(found.get('reason', ''))}</td>"
                        "</tr>")
            continue
        needed = found["needed"]
        g_min = needed[0]["g_min"]
        figures.append(image(plots.d_study(found["table"], found["design"], g_min,
                                            labels.get(name, name)),
                              f"D-study, G against clips per session, {labels.get(name, name)}"))
        c = found["components"]
        rows.append(
            f"<tr><td class='name'>{esc(labels.get(name, name))}</td>"
            f"<td>{found['design']['clips_per_session']:g} x "
            f"{found['design']['coders_per_clip']:g}</td>"
            f"<td>{number(found['g'], 2)}</td><td>{number(found['phi'], 2)}</td>"
            + "".join(f"<td>{n['clips_per_session'] or '&gt; 200'}</td>" for n in needed)
            + "<td class='name note'>" + ", ".join(
                f"{k} {number(c[k])}" for k in ("session", "clip_in_session", "coder",
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


def bias_section(result: dict, scheme: Scheme) -> str:
    labels = variable_labels(scheme)
    rows = [
        f"<tr><td class='name'>{esc(labels.get(name, name))}</td><td class='name'>"
        f"{esc(row['coder'])}</td><td>{number(row['mean_difference'], 2)}</td>"
        f"<td>{interval(row['ci'])}</td><td>{row['n_clips']}</td></tr>"
        for name, found in result.get("bias", {}).items() for row in found
        if name in {c.id for c in scheme.composites}]
    if not rows:
        return "<p class='note'>No coder shared a clip with another coder.</p>"
    return ("<p class='note'>Per composite (items in reliability.json): the coder's mean "
            "difference from the other coders on shared clips, with a 95% t interval.</p>"
            "<table><tr><th class='name'>composite</th><th class='name'>coder</th>"
            "<th>bias</th><th>95% CI</th><th>clips</th></tr>" + "".join(rows) + "</table>")


def forest_rows(result: dict, scheme: Scheme) -> list[dict]:
    labels = variable_labels(scheme)
    rows = []
    for kind in ("items", "composites"):
        for name, entry in result[kind].items():
            ci = entry["alpha"].get("ci") or [None, None]
            rows.append({"label": labels.get(name, name), "value": entry["alpha"]["value"],
                         "lo": ci[0], "hi": ci[1]})
    return rows


def pairs_section(result: dict) -> str:
    pooled = [p for p in result["pairs"] if p["item"] is None]
    if not pooled:
        return "<p class='note'>No two coders rated the same clip.</p>"
    coders = sorted({c for p in pooled for c in p["coders"]})
    kappa = {tuple(p["coders"]): p["kappa"] for p in pooled}
    within = {tuple(p["coders"]): p["within_one_agreement"] for p in pooled}
    table = "".join(
        f"<tr><td class='name'>{esc(p['coders'][0])}</td><td class='name'>{esc(p['coders'][1])}"
        f"</td><td>{p['n_clips']}</td>"
        + "".join(f"<td>{number(p['weighted_kappa'][w]['value'])} "
                  f"{interval(p['weighted_kappa'][w]['ci'])}</td>"
                  for w in ("linear", "quadratic"))
        + f"<td>{percent(p['exact_agreement'])}</td><td>{percent(p['within_one_agreement'])}"
        "</td></tr>" for p in pooled
    )
    return (
        "<div class='figures'>"
        + image(plots.pair_heatmap(coders, kappa, "quadratic-weighted kappa, all items"),
                 "coder-pair kappa heatmap")
        + image(plots.pair_heatmap(coders, within, "within-one agreement, all items"),
                 "coder-pair within-one agreement heatmap")
        + "</div><table><tr><th class='name'>coder</th><th class='name'>coder</th><th>clips</th>"
        "<th>linear kappa [95% CI]</th><th>quadratic kappa [95% CI]</th><th>exact</th>"
        "<th>within one</th></tr>" + table + "</table><p class='note'>All items pooled; per "
        "item in pairs.csv. Intervals from Gwet's (2014) standard error.</p>"
    )
