"""The report's movement-synchrony section: real against pseudo-synchrony across the study, and
one session's motion traces and cross-correlation map.

Blinded like the rest of the report: the session shown is "session k" (its place among the
sessions with motion series, in sessions.csv order), never its dyad, timepoint or arm, unless
the report is unblinded. Pure: motion scores in, HTML with embedded figures out.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from coding_pipeline.errors import PipelineError
from coding_pipeline.motion.scores import MotionScores
from coding_pipeline.report.format import esc, image, number
from coding_pipeline.report.plots import _to_data_uri
from coding_pipeline.stats.synchrony import lagged_correlation, preprocess

EXPLANATION = (
    "Motion energy is the share of a person's region-of-interest pixels that changed from one "
    "frame to the next (Motion Energy Analysis, Ramseyer &amp; Tschacher 2011). Each series is "
    "smoothed, capped at {outlier_sd:g} SD and scaled by its SD; caregiver and child are then "
    "correlated in windows of {window_s:g} s moved on by {step_s:g} s, at lags up to "
    "&plusmn;{max_lag_s:g} s (rMEA, Kleinbub &amp; Ramseyer 2021). <b>sync_peak</b>: the mean "
    "over windows of the peak |Fisher z| across lags; <b>pseudo-synchrony</b>: the same for "
    "each caregiver paired with other sessions' children (between-dyad surrogates; Moulder et "
    "al. 2018), which chance alone reaches with the same windows and lags. Positive lags: the "
    "caregiver leads.")


@dataclass(frozen=True)
class MotionView:
    """What the report shows of the motion scores: the study, and one session (or none)."""

    scores: MotionScores
    session: tuple[str, str] | None
    label: str  # how the session is named in the report


def motion_view(scores: MotionScores, chosen: str | None, unblinded: bool) -> MotionView:
    """The session to show: `chosen` ("DYAD:TIMEPOINT"), else the first with a window; named
    "session k" unless `unblinded`."""
    sessions = list(scores.grids)
    if chosen is not None:
        dyad_id, _, timepoint = chosen.rpartition(":")
        if (dyad_id, timepoint) not in scores.grids:
            raise PipelineError(
                f"--motion-session {chosen}: no motion series for dyad_id={dyad_id!r} "
                f"timepoint={timepoint!r}; write it as DYAD:TIMEPOINT as in sessions.csv, one "
                "of the sessions with a file in STUDY/motion/.")
        session = (dyad_id, timepoint)
    else:
        with_window = scores.table.loc[scores.table["n_windows"].fillna(0) > 0, ["dyad_id",
                                                                                 "timepoint"]]
        session = next(iter(map(tuple, with_window.itertuples(index=False))), None)
    if session is None:
        return MotionView(scores, None, "")
    label = (f"{session[0]} at {session[1]}" if unblinded
             else f"session {sessions.index(session) + 1}")
    return MotionView(scores, session, label)


def motion_section(view: MotionView) -> str:
    """The section's HTML: explanation, the study's test, its figures, and one session's."""
    scores = view.scores
    settings = scores.settings
    rows = scores.table.dropna(subset=["sync_peak"])
    html = "<p class='note'>" + EXPLANATION.format(**vars(settings)) + "</p>"
    html += _comparison_table(scores, len(rows))
    if len(rows):
        html += "<div class='figures'>" + image(
            real_against_pseudo(rows["sync_peak"].to_numpy(float),
                                rows["pseudo_sync_peak"].to_numpy(float),
                                rows["sync_vs_pseudo"].to_numpy(float)),
            "real against pseudo-synchrony per session") + "</div>"
    if view.session is not None:
        html += _session_part(view)
    return html


def _comparison_table(scores: MotionScores, n_scored: int) -> str:
    test = scores.comparison
    resampled = (" (sessions recorded at " + ", ".join(f"{r:g}" for r in test["session_rates"])
                 + " fps, analysed at the lowest rate)" if test.get("resampled") else "")
    p_value = test.get("p_value")
    p_text = ("p &lt; .001" if p_value is not None and p_value < .001
              else f"p = {number(p_value)}")
    cells = [
        ("Sessions with motion series", f"{len(scores.grids)} of {len(scores.table)} "
                                        f"({n_scored} with a synchrony score)"),
        ("Frame rate analysed", f"{scores.fps:g} fps{resampled}"),
        ("Surrogates", f"{test['surrogates']} pairings in all (seed {test['seed']})"),
        ("Mean sync_peak: real / pseudo",
         f"{number(test.get('real_mean'))} / {number(test.get('pseudo_mean'))}"),
        ("Paired t-test", f"t({test.get('df')}) = {number(test.get('t'), 2)}, {p_text}, "
                          f"d<sub>z</sub> = {number(test.get('d_z'), 2)}"),
    ]
    body = "".join(f"<tr><td class='name'>{esc(name)}</td><td class='name'>{value}</td></tr>"
                   for name, value in cells)
    return f"<table>{body}</table>"


def _session_part(view: MotionView) -> str:
    scores = view.scores
    caregiver, child = scores.grids[view.session]
    row = scores.table[(scores.table["dyad_id"] == view.session[0])
                       & (scores.table["timepoint"] == view.session[1])].iloc[0]
    ccf = lagged_correlation(preprocess(caregiver, scores.fps, scores.settings),
                             preprocess(child, scores.fps, scores.settings), scores.fps,
                             scores.settings)
    summary = (f"sync_lag0 {number(row['sync_lag0'])}, sync_peak {number(row['sync_peak'])} "
               f"(pseudo {number(row['pseudo_sync_peak'])}, z against its surrogates "
               f"{number(row['sync_vs_pseudo'], 2)}), peak lag {number(row['peak_lag_s'], 2)} s, "
               f"caregiver leads in {number(row['caregiver_leads_share'], 2)} of the windows "
               f"with a lead; background moved in {number(row['background_moved_share'], 3)} "
               "of the frames.")
    figures = (image(motion_traces(caregiver, child, scores.fps), f"motion of {view.label}")
               + image(cross_correlation_map(ccf.z, ccf.lags_s, ccf.window_start_s),
                       f"cross-correlation map of {view.label}"))
    title = view.label[:1].upper() + view.label[1:]
    return (f"<h3>{esc(title)}</h3><p class='note'>{esc(summary)}</p>"
            f"<div class='figures'>{figures}</div>")


def real_against_pseudo(real: np.ndarray, pseudo: np.ndarray, z: np.ndarray) -> str:
    """Left: each session's sync_peak beside its surrogates' mean, joined by a line; right: the
    sessions' z against their surrogates, with 1.96 marked."""
    figure, (paired, spread) = plt.subplots(1, 2, figsize=(8.6, 3.4),
                                            gridspec_kw={"width_ratios": [1, 1.3]})
    for low, high in zip(pseudo, real, strict=True):
        paired.plot([0, 1], [low, high], color="#adb5bd", lw=0.8)
    paired.plot(np.zeros(len(pseudo)), pseudo, "o", color="#6c757d", ms=4)
    paired.plot(np.ones(len(real)), real, "o", color="#0d6efd", ms=4)
    paired.set_xticks([0, 1])
    paired.set_xticklabels(["pseudo (surrogates' mean)", "real"], fontsize=8)
    paired.set_xlim(-0.4, 1.4)
    paired.set_ylabel("sync_peak (mean peak |z|)")
    paired.set_title("Per session", fontsize=10)
    values = z[np.isfinite(z)]
    if values.size:
        spread.hist(values, bins=min(30, max(5, values.size // 2)), color="#0d6efd", alpha=0.7)
    spread.axvline(0, color="#212529", lw=0.8)
    spread.axvline(1.96, color="#dc3545", lw=0.9, ls="--", label="z = 1.96")
    spread.set_xlabel("sync_vs_pseudo (z against the session's surrogates)")
    spread.set_ylabel("sessions")
    spread.legend(fontsize=8)
    spread.set_title("Real against pseudo-synchrony", fontsize=10)
    figure.tight_layout()
    return _to_data_uri(figure)


def motion_traces(caregiver: np.ndarray, child: np.ndarray, fps: float) -> str:
    """Caregiver's and child's motion energy over the session (gaps: frames left out)."""
    figure, axes = plt.subplots(figsize=(8.6, 2.8))
    minutes = np.arange(caregiver.size) / fps / 60
    axes.plot(minutes, caregiver, lw=0.6, color="#0d6efd", label="caregiver")
    axes.plot(minutes, -child, lw=0.6, color="#fd7e14", label="child (drawn downwards)")
    axes.axhline(0, color="#212529", lw=0.5)
    axes.set_xlabel("minutes")
    axes.set_ylabel("share of ROI pixels changed")
    axes.legend(fontsize=8, loc="upper right", ncols=2)
    return _to_data_uri(figure)


def cross_correlation_map(z: np.ndarray, lags_s: np.ndarray, starts_s: np.ndarray) -> str:
    """Windows x lags heat map of Fisher z, each window's peak |z| marked."""
    figure, axes = plt.subplots(figsize=(6.4, 0.9 + 0.22 * max(len(starts_s), 4)))
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    step = float(lags_s[1] - lags_s[0]) if len(lags_s) > 1 else 1.0
    shown = axes.imshow(z, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                        extent=(lags_s[0] - step / 2, lags_s[-1] + step / 2, len(starts_s) - 0.5,
                                -0.5), interpolation="nearest")
    magnitude = np.where(np.isnan(z), -np.inf, np.abs(z))
    defined = np.isfinite(magnitude).any(axis=1)
    peaks = np.argmax(magnitude, axis=1)
    axes.plot(lags_s[peaks[defined]], np.flatnonzero(defined), "k.", ms=4, label="peak |z|")
    axes.axvline(0, color="#212529", lw=0.6, ls=":")
    ticks = np.arange(0, len(starts_s), max(1, len(starts_s) // 8))
    axes.set_yticks(ticks)
    axes.set_yticklabels([f"{starts_s[k] / 60:.1f}" for k in ticks], fontsize=8)
    axes.set_ylabel("window start (min)")
    axes.set_xlabel("lag (s; > 0: caregiver leads)")
    figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.04, label="Fisher z")
    axes.legend(fontsize=7, loc="lower right")
    return _to_data_uri(figure)
