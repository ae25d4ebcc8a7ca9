"""The D-study of each composite's session score: how reliable a dyad x timepoint mean over
its clips is, for the study's design and for other numbers of clips and coders. Pure.
"""

from __future__ import annotations

import pandas as pd

from coding_pipeline.reliability.entries import rounded
from coding_pipeline.stats.generalizability import clips_needed, g_coefficients, harmonic_mean
from coding_pipeline.stats.variance import fit_sessions

D_STUDY_CLIPS = range(1, 13)
D_STUDY_CODERS = (1, 2, 3)


def d_study(rows: pd.DataFrame, sessions: pd.Series, k: float, g_min: float,
            starts: dict | None = None) -> dict:
    """The D-study of one composite's session score from every rated clip: REML components
    of (c:s) x r, the study's design (harmonic mean of scored clips per session; k), G and
    Phi for it, the table over n = 1..12 clips and k = 1..3 coders, and the smallest n
    reaching G >= g_min with one and with two coders per clip."""
    rated = rows.assign(session=rows["clip_id"].map(sessions)).dropna(subset=["session"])
    starts = {} if starts is None else starts
    if "sessions" not in starts and "two_way" in starts:  # split the clip variance in two
        clip, coder = starts["two_way"]
        starts["sessions"] = (0.7 * clip, 0.7 * clip, coder, 0.1 * clip)
    fit = fit_sessions(rated["value"].to_numpy(float), rated["session"].to_numpy(),
                       rated["clip_id"].to_numpy(), rated["coder"].to_numpy(),
                       starts.get("sessions", ()))
    starts["sessions"] = fit.theta
    components = fit.components
    per_session = rated.groupby("session")["clip_id"].nunique()
    n_design = harmonic_mean(per_session.to_numpy())
    g, phi = g_coefficients(components, n_design, k)
    table = []
    for coders in D_STUDY_CODERS:
        for clips in D_STUDY_CLIPS:
            g_value, phi_value = g_coefficients(components, clips, coders)
            table.append({"clips_per_session": clips, "coders_per_clip": coders,
                          "g": rounded(g_value), "phi": rounded(phi_value)})
    needed = [{"coders_per_clip": coders, "clips_per_session": clips_needed(
        components, coders, g_min), "g_min": g_min} for coders in (1, 2)]
    return {
        "components": {name: rounded(value) for name, value in components.items()}
        | {"method": "REML"},
        "design": {"clips_per_session": round(n_design, 4), "coders_per_clip": round(k, 4),
                   "clips_per_session_basis": "harmonic mean of scored clips per session",
                   "n_sessions": int(per_session.size), "n_clips": int(rated["clip_id"].nunique()),
                   "n_ratings": fit.n_obs},
        "g": rounded(g), "phi": rounded(phi), "table": table, "needed": needed,
    }


def sessions_of(clips: pd.DataFrame | None) -> pd.Series | None:
    """clip_id -> session (dyad_id and timepoint) from a clip key."""
    if clips is None or clips.empty:
        return None
    keyed = clips.drop_duplicates("clip_id").set_index("clip_id")
    return keyed["dyad_id"].astype(str) + " / " + keyed["timepoint"].astype(str)
