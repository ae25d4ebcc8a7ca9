"""The methods paragraph of a reliability result: coders, clips double-coded, design, the
statistics and their forms, intervals, software and versions. Pure.
"""

from __future__ import annotations

import re

from coding_pipeline.reliability.entries import ICC_CI_F
from coding_pipeline.scheme import Scheme


def _design_sentence(result: dict) -> str:
    total, double = result["n_clips"], result["n_clips_double_coded"]
    share = f" ({100 * double / total:.0f}%)" if total else ""
    sizes = {e["n_coders"] for e in result["items"].values() if e["n_clips"]}
    complete = all(e["icc"].get("ci_method") == ICC_CI_F
                   for e in result["items"].values() if e["icc"].get("value") is not None)
    design = ("every double-coded clip was rated by the same coders (fully crossed)" if complete
              else "double-coded clips were rated by differing subsets of coders (an incomplete "
                   "design)")
    return (f"{result['n_coders']} coders rated {total} clips; {double}{share} were coded "
            f"independently by two or more coders ({max(sizes, default=0)} coders among them); "
            f"{design}.")


def methods_text(result: dict, scheme: Scheme) -> str:
    """A paragraph for a methods section: coders, clips double-coded, design, statistics and
    their forms, intervals, software and versions."""
    settings = result["settings"]
    first = next((e for e in result["composites"].values()
                  if e["icc_forms"].get("ICC(A,k)")), None) or next(
        (e for e in result["items"].values() if e["icc_forms"].get("ICC(A,k)")), None)
    k_text = (f"ICC(A,k) and ICC(C,k) for the k = {first['icc_forms']['ICC(A,k)']['k']:g} "
              f"coder(s) a clip score averages ({first['icc_forms']['ICC(A,k)']['k_basis']})"
              if first else "ICC(A,k) and ICC(C,k)")
    parts = [
        f"Ratings were made on the {scheme.name} coding scheme (version {scheme.version}).",
        _design_sentence(result),
        "Inter-rater reliability was estimated per item and per composite (the mean of its "
        "items after reverse-keying) on the double-coded clips. Krippendorff's alpha (ordinal "
        "for items, interval for composites) is reported with a 95% percentile bootstrap "
        f"interval from {settings['bootstrap']} resamples of clips (seed {settings['seed']}).",
        "Intraclass correlations were computed from the variance components (clip, coder, "
        "residual) of a two-way random-effects model, rating = mean + clip + coder + error, "
        "estimated by restricted maximum likelihood (REML) on all double-coded clips, as "
        "ten Hove, Jorgensen and van der Ark (2022) recommend for incomplete designs: the "
        "headline ICC(A,1) (absolute agreement of a single coder, McGraw & Wong 1996; equal "
        f"to Shrout & Fleiss ICC(2,1) on complete data), ICC(C,1) (consistency), {k_text}, "
        "and the one-way ICC(1). ICC intervals are McGraw and Wong's F intervals when every "
        "clip was rated by the same coders, otherwise Monte Carlo intervals from the REML "
        "estimates' asymptotic distribution.",
        f"Gwet's AC2 with {settings['ac2_weights']} weights (Gwet 2014) is reported per item "
        "with its linearised standard error, and linear and quadratic weighted kappa per coder "
        "pair with Gwet's standard error; exact and within-one-point agreement are the shares "
        "of coder pairs agreeing exactly or within one scale point.",
    ]
    studies = {name: d for name, d in result.get("d_study", {}).items() if "g" in d}
    if studies:
        example = next(iter(studies.values()))["design"]
        parts.append(
            "The reliability of the analysed session scores (dyad x timepoint means over "
            "clips) was estimated by a generalizability study of the design clips nested in "
            "sessions, crossed with coders ((c:s) x r; Brennan 2001; REML components session, "
            "clip within session, coder, session x coder, residual), with G and Phi for the "
            f"study's design ({example['clips_per_session']:g} clips per session, "
            f"{example['coders_per_clip']:g} coder(s) per clip): "
            + "; ".join(f"{name} G = {d['g']:.2f}, Phi = {d['phi']:.2f}"
                        for name, d in studies.items()) + ".")
    if result.get("unit") == "interview":
        parts = [re.sub(r"\b(a )?clip(s?)\b",
                        lambda m: ("an " if m.group(1) else "") + "interview" + m.group(2), part)
                 for part in parts]
        parts.append(INTERVIEW_SESSION_SENTENCE)
    parts.append(_software_sentence(result["software"]))
    return " ".join(parts)


INTERVIEW_SESSION_SENTENCE = (
    "Each dyad and timepoint has one interview, so an interview's score is the session score "
    "and its reliability is the ICC(A,k) above; no D-study over units per session applies.")


def _software_sentence(versions: dict[str, str]) -> str:
    """Which software computed it, with the versions given (none when none were)."""
    def named(label: str, package: str) -> str:
        return f"{label} {versions[package]}" if package in versions else label

    return (f"Computed with {named('coding-pipeline', 'coding-pipeline')} ("
            f"{named('Python', 'python')}, {named('NumPy', 'numpy')}, "
            f"{named('SciPy', 'scipy')}, {named('pandas', 'pandas')}).")
