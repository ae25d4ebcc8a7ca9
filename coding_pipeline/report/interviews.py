"""The report's section on interviews (reflective functioning): the RF reliability table,
the certification of interview coders, and the RF score distributions (by arm only in an
unblinded report, as for the video scores). Pure: results and tables in, HTML out."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from coding_pipeline.report.coders import scores_section
from coding_pipeline.report.format import esc, number, percent
from coding_pipeline.report.statistics import reliability_table
from coding_pipeline.scheme import Scheme

TITLE = "Interviews: reflective functioning"


@dataclass(frozen=True)
class InterviewReport:
    """What the RF section shows: the interview reliability result, the interview scheme
    and the interview scores (interview_scores.csv's rows), or None before any is scored."""

    result: dict
    scheme: Scheme
    scores: pd.DataFrame | None


def long_scores(scores: pd.DataFrame, scheme: Scheme, unblinded: bool) -> pd.DataFrame:
    """Interview scores as the score figures take them (composite, score, timepoint[, arm]);
    without arm unless `unblinded`."""
    composites = [c.id for c in scheme.composites if c.id in scores.columns]
    long = scores.melt(id_vars=["dyad_id", "timepoint", "arm"], value_vars=composites,
                       var_name="composite", value_name="score")
    long = long.assign(arm=long["arm"].fillna("").astype(str),
                       timepoint=long["timepoint"].astype(str))
    return long if unblinded else long.drop(columns="arm")


def interview_section(found: InterviewReport, unblinded: bool) -> str:
    """The RF section's HTML (its heading is the caller's)."""
    result, scheme = found.result, found.scheme
    settings = result.get("settings", {})
    scores = None if found.scores is None else long_scores(found.scores, scheme, unblinded)
    figures_title = "by arm and timepoint" if unblinded else "by timepoint"
    return (
        f"<p class='methods'>{esc(result.get('methods_text', ''))}</p>"
        + reliability_table(result, scheme)
        + "<p class='note'>Each interview is a unit, rated on the "
        f"{esc(scheme.name)} scheme (version {esc(scheme.version)}); computed on interviews "
        f"rated by two or more coders ({result.get('n_clips_double_coded', '?')} of "
        f"{result.get('n_clips', '?')} interviews), the same statistics as for clips "
        f"(bootstrap {settings.get('bootstrap', '?')} resamples of interviews). A passage "
        "rated not codable is missing. Files: reliability/interviews/.</p>"
        + "<h3>Certification of interview coders</h3>" + certification_table(result)
        + f"<h3>RF score distributions {figures_title}</h3>"
        + scores_section(scores, scheme, unblinded)
    )


def certification_table(result: dict) -> str:
    """Each interview trainee (and recertification) against the master: the overall score's
    ICC(A,1), the demand questions' pooled within-one agreement, the interviews, the status."""
    trainees = result.get("certification", [])
    if not trainees:
        return "<p class='note'>No training batch of interviews has been rated yet.</p>"
    criteria = trainees[0]["criteria"]
    rows = []
    for t in trainees:
        overall = next((e for e in t["items"].values() if "icc" in e), {})
        demand = [e for name, e in t["items"].items() if "icc" not in e
                  and e["within_one_agreement"] is not None]
        pairs = sum(e["n_clips"] for e in demand)
        within = (sum(e["within_one_agreement"] * e["n_clips"] for e in demand) / pairs
                  if pairs else None)
        status = "pass" if t["status"] == "pass" else "notyet"
        rows.append(
            f"<tr><td class='name'>{esc(t['coder'])}</td><td class='name'>"
            f"{esc(t.get('kind', 'certification'))}</td><td>{number(overall.get('icc'))}</td>"
            f"<td>{percent(within)}</td><td>{t['n_clips']}</td><td class='{status}'>"
            f"{esc(t['status'])}</td><td class='name'>{esc('; '.join(t['reasons']))}</td></tr>")
    return (
        "<p class='note'>Pass (study.toml [certification.interviews]): ICC(A,1) of the overall "
        f"score with the master &ge; {criteria['icc_overall_min']:.2f}, at least "
        f"{criteria['demand_within_one_min']:.0%} of the demand-question ratings within one "
        f"point, at least {criteria['min_interviews']} training interviews.</p>"
        "<table><tr><th class='name'>coder</th><th class='name'>kind</th><th>overall ICC</th>"
        "<th>demand within one</th><th>interviews</th><th>status</th>"
        "<th class='name'>reasons</th></tr>" + "".join(rows) + "</table>")
