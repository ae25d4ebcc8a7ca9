"""The study report: one self-contained HTML file (figures embedded, nothing from the network).

`render_report` is pure (data in, HTML text out; its sections are in `report.statistics`,
`report.coders` and `report.motion`); `report_study` reads the study's ratings once, recomputes
reliability and scores (writing their files; with motion series, the motion scores too) and
writes STUDY/report.html.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from coding_pipeline.batches import load_batches
from coding_pipeline.consensus import consensus_summary, recoded_after_consensus
from coding_pipeline.errors import PipelineError
from coding_pipeline.motion.scores import study_motion_scores
from coding_pipeline.ratings import RELIABILITY_ROLES, read_ratings_by_kind, read_study_ratings
from coding_pipeline.reliability import clip_reliability_study, interview_reliability_study
from coding_pipeline.report import plots
from coding_pipeline.report.coders import (
    bland_altman_section,
    certification_section,
    consensus_section,
    drift_section,
    scores_section,
)
from coding_pipeline.report.format import esc, image
from coding_pipeline.report.interviews import TITLE as INTERVIEW_TITLE
from coding_pipeline.report.interviews import InterviewReport, interview_section
from coding_pipeline.report.motion import MotionView, motion_section, motion_view
from coding_pipeline.report.statistics import (
    bias_section,
    d_study_section,
    explanations,
    forest_rows,
    icc_forms_table,
    pairs_section,
    reliability_table,
)
from coding_pipeline.scheme import Scheme
from coding_pipeline.scores.core import coder_composites
from coding_pipeline.scores.files import write_study_scores
from coding_pipeline.study import Study, write_text_atomic

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


def render_report(
    *, study_name: str, scheme: Scheme, result: dict, coder_composites: pd.DataFrame,
    scores: pd.DataFrame | None, within_one_min: float = 0.85, generated_at: str | None = None,
    unblinded: bool = False,
    consensus: dict | None = None, motion: MotionView | None = None,
    interviews: InterviewReport | None = None,
) -> str:
    """The report as one HTML document with every figure embedded as a PNG data URI.

    Blinded by default: no trial arm anywhere (scores by timepoint only). `unblinded` adds
    the score distributions by arm and says so in the title. `motion`: the movement-synchrony
    section (shown only when given). `interviews`: the section on interview (reflective
    functioning) reliability and scores, last, when there are any."""
    generated_at = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    settings = result.get("settings", {})
    scores_title = ("Score distributions by arm and timepoint" if unblinded
                    else "Score distributions by timepoint")
    sections = [
        ("Methods", f"<p class='methods'>{esc(result.get('methods_text', ''))}</p>"
         "<p class='note'>A paragraph to paste into a methods section (also in "
         "reliability/reliability.json as methods_text).</p>"),
        ("Reliability", reliability_table(result, scheme)
         + "<p class='note'>Computed on clips rated by two or more coders "
         f"({result.get('n_clips_double_coded', '?')} of {result.get('n_clips', '?')} clips). "
         "Alpha: items ordinal, composites interval (composite = mean of its items after "
         f"reverse-keying); 95% interval from {settings.get('bootstrap', '?')} bootstrap "
         f"resamples of clips (seed {settings.get('seed', '?')}). AC2 with "
         f"{esc(settings.get('ac2_weights', 'quadratic'))} weights.</p>" + explanations()),
        ("ICC forms and variance components", icc_forms_table(result, scheme)),
        ("Reliability of session scores (D-study)", d_study_section(result, scheme)),
        ("Alpha with 95% intervals", image(plots.alpha_forest(forest_rows(result, scheme)),
                                            "alpha with intervals per item and composite")),
        ("Coder pairs", pairs_section(result)),
        ("Coder bias", bias_section(result, scheme)),
        ("Bland-Altman plots of composites", bland_altman_section(coder_composites, scheme)),
        ("Drift over time", drift_section(result, scheme, within_one_min)),
        ("Coder certification", certification_section(result, scheme)),
        ("Consensus", consensus_section(consensus, scheme)),
        (scores_title, scores_section(scores, scheme, unblinded)),
    ]
    if motion is not None:
        sections.append(("Movement synchrony", motion_section(motion)))
    if interviews is not None:
        sections.append((INTERVIEW_TITLE, interview_section(interviews, unblinded)))
    return _page(study_name, sections, unblinded,
                 f"Scheme {esc(scheme.name)} version {esc(scheme.version)} &middot; "
                 f"{result.get('n_ratings', 0)} ratings", generated_at)


def render_interview_report(
    *, study_name: str, interviews: InterviewReport, unblinded: bool = False,
    motion: MotionView | None = None, generated_at: str | None = None,
) -> str:
    """The report of a study rated on interviews only (no clip rated yet): the RF section,
    and the movement-synchrony section when given; blinded as `render_report`."""
    sections = [(INTERVIEW_TITLE, interview_section(interviews, unblinded))]
    if motion is not None:
        sections.append(("Movement synchrony", motion_section(motion)))
    scheme = interviews.scheme
    return _page(study_name, sections, unblinded,
                 f"Interview scheme {esc(scheme.name)} version {esc(scheme.version)} &middot; "
                 f"{interviews.result.get('n_ratings', 0)} ratings; no clip rated yet",
                 generated_at)


def _page(study_name: str, sections: list[tuple[str, str]], unblinded: bool, meta: str,
          generated_at: str | None) -> str:
    """The whole HTML document: title, the `meta` line (HTML), blinding, the sections."""
    generated_at = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(f"<h2>{esc(title)}</h2>{content}" for title, content in sections)
    title = (f"Coding report (UNBLINDED: shows trial arms, for analysts only): {study_name}"
             if unblinded else f"Coding report: {study_name}")
    blinding = ("Unblinded: scores are broken down by trial arm. Do not show this report to "
                "coders." if unblinded else
                "Blinded: no trial arm is shown anywhere in this report.")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f"<p class='meta'>{meta} &middot; generated "
        f"{esc(generated_at)} by coding-pipeline &middot; {esc(blinding)}</p>"
        + body + "</body></html>"
    )


def report_study(study: Study, warnings: list[str] | None = None,
                 unblinded: bool = False, motion_session: str | None = None) -> Path:
    """Recompute reliability and scores, and write STUDY/report.html (blinded unless
    `unblinded`). Returns its path.

    With motion series in STUDY/motion/ the report gets a movement-synchrony section showing
    `motion_session` ("DYAD:TIMEPOINT"; default: the first session with a score). Problems
    with the ratings or motion files found on the way are appended to `warnings`.
    """
    ratings, interviews = read_ratings_by_kind(study)
    if ratings is None and interviews is not None:
        return _interview_report_study(study, interviews, warnings, unblinded, motion_session)
    ratings = read_study_ratings(study) if ratings is None else ratings  # says what is missing
    result = clip_reliability_study(study, ratings)
    rf = None if interviews is None else interview_reliability_study(study, interviews)
    if warnings is not None:
        warnings.extend(result.get("warnings", []) + (rf or {}).get("warnings", []))
    scheme, clean = ratings.scheme, ratings.table
    independent = clean[clean["role"].isin(RELIABILITY_ROLES)]
    composites = coder_composites(independent, scheme, study.config.min_item_share)
    motion = _motion_scores(study, warnings, motion_session)
    _, tables, rf_scores = write_study_scores(study, ratings, interviews, motion)
    plans = load_batches(study)
    consensus = consensus_summary(plans) | {"recoded": recoded_after_consensus(clean, plans)}
    text = render_report(
        study_name=study.config.name, scheme=scheme, result=result,
        coder_composites=composites, scores=_shown_scores(tables.long, unblinded),
        within_one_min=study.config.within_one_min, unblinded=unblinded, consensus=consensus,
        motion=None if motion is None else motion_view(motion, motion_session, unblinded),
        interviews=None if rf is None else InterviewReport(rf, interviews.scheme, rf_scores),
    )
    path = study.root / "report.html"
    write_text_atomic(path, text)
    return path


def _motion_scores(study: Study, warnings: list[str] | None, motion_session: str | None):
    """The study's motion scores (None without motion series: then no session can be asked)."""
    motion = study_motion_scores(study, warnings)
    if motion is None and motion_session is not None:
        raise PipelineError(f"--motion-session {motion_session}: {study.root / 'motion'} holds "
                            "no motion series: run `coding-pipeline motion` first.")
    return motion


def _interview_report_study(study: Study, interviews, warnings: list[str] | None,
                            unblinded: bool, motion_session: str | None) -> Path:
    """`report_study` of a study rated on interviews only."""
    rf = interview_reliability_study(study, interviews)
    if warnings is not None:
        warnings.extend(rf.get("warnings", []))
    motion = _motion_scores(study, warnings, motion_session)
    _, _, rf_scores = write_study_scores(study, None, interviews, motion)
    text = render_interview_report(
        study_name=study.config.name, unblinded=unblinded,
        interviews=InterviewReport(rf, interviews.scheme, rf_scores),
        motion=None if motion is None else motion_view(motion, motion_session, unblinded))
    path = study.root / "report.html"
    write_text_atomic(path, text)
    return path


def _shown_scores(long: pd.DataFrame, unblinded: bool) -> pd.DataFrame:
    """The long dyad scores with arm and timepoint as text; without arm unless `unblinded`."""
    scores = long.assign(arm=long["arm"].fillna("").astype(str),
                         timepoint=long["timepoint"].astype(str))
    return scores if unblinded else scores.drop(columns="arm")
