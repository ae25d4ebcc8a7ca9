"""Per-dyad scores: items -> a coder's composites on a clip -> clip scores -> dyad x timepoint.

1. A coder's composite on a clip is the mean of its items after reverse-keying
   (max + min - value), when at least `min_item_share` of the items were rated; else missing,
   with the reason.
2. A double-coded clip gets one score per composite by policy: `primary` (the coder with role
   primary; without roles, the coder who rated first; when that coder's composite is missing,
   the second coder's, recorded in `source`), `mean` (mean over coders) or `consensus`
   (the consensus rating where one exists, else the mean).
3. A dyad's score at a timepoint is the duration-weighted mean (weight end_s - start_s) of its
   session's clip scores (equal weights in a session with a clip of unknown duration), with
   the number of clips scored and their share of the session's clips.

Pure: checked ratings (`coding_pipeline.rating_checks`) and the clip key in, tables out;
`scores.files` reads and writes the study folder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.rating_checks import rating_use
from coding_pipeline.scheme import Scheme

SCORED_ROLES = ("", "primary", "reliability", "consensus")
POLICIES = ("primary", "mean", "consensus")
PRIMARY_POLICY_SOURCES = {  # whose rating the primary policy used, by that coder's role
    "primary": "primary",
    "reliability": "reliability coder (primary not rated)",
    "": "first coder to rate, no roles",
}
FALLBACK_SOURCE = "second coder (primary's composite missing)"  # or the first coder's
SESSION_KEYS = ["dyad_id", "timepoint"]


def keyed_values(clean: pd.DataFrame, scheme: Scheme) -> pd.Series:
    """Each rating after reverse-keying: max + min - value for reverse-keyed items."""
    offsets = {i.id: i.scale.max + i.scale.min for i in scheme.items if i.reverse}
    flip = clean["item"].map(offsets).astype(float)
    return clean["value"].where(flip.isna(), flip - clean["value"])


def coder_composites(
    clean: pd.DataFrame, scheme: Scheme, min_item_share: float = 0.75
) -> pd.DataFrame:
    """Each coder's composites on each clip: clip_id, coder, role, rated_at (the coder's first
    rating of the clip), composite, value, n_items, reason. value = mean of the reverse-keyed
    items when at least `min_item_share` of the composite's items were rated, else NaN with
    the reason. A coder's training, consensus and study ratings of a clip (see `rating_use`)
    give separate rows, never one mixed mean."""
    columns = ["clip_id", "coder", "role", "rated_at", "composite", "value", "n_items", "reason"]
    if clean.empty or not scheme.composites:
        return pd.DataFrame(columns=columns)
    keys = ["clip_id", "coder", "use"]
    keyed = clean.assign(keyed=keyed_values(clean, scheme), use=rating_use(clean["role"]))
    by_coder = keyed.groupby(keys)
    roles = keyed.assign(_role=keyed["role"].replace("", np.nan)).groupby(keys)[
        "_role"].first().fillna("")  # the first role given
    first_rated = by_coder["rated_at"].min()
    frames = []
    for composite in scheme.composites:
        rows = keyed[keyed["item"].isin(composite.items)]
        grouped = rows.groupby(keys)["keyed"].agg(["mean", "count"])
        needed = len(composite.items)
        enough = grouped["count"] >= min_item_share * needed - 1e-9
        frame = pd.DataFrame({
            "composite": composite.id,
            "value": grouped["mean"].where(enough),
            "n_items": grouped["count"].astype(int),
            "reason": np.where(
                enough, "",
                grouped["count"].astype(str) + f" of {needed} items rated "
                f"(at least {min_item_share:.0%} needed)",
            ),
        }, index=grouped.index)
        frames.append(frame)
    table = pd.concat(frames).reset_index()
    index = table.set_index(keys).index
    table["role"] = index.map(roles)
    table["rated_at"] = index.map(first_rated)
    return table[columns]


# ---------------------------------------------------------------- clips and sessions


def clip_scores(composites: pd.DataFrame, policy: str = "primary") -> pd.DataFrame:
    """One score per clip and composite by policy: clip_id, composite, value, n_coders, source
    (whose rating: see PRIMARY_POLICY_SOURCES, "mean" or "consensus"), reason. Training and
    master ratings are not study scores and are left out."""
    if policy not in POLICIES:
        raise PipelineError(f"clip policy '{policy}' is unknown: use {', '.join(POLICIES)}.")
    table = composites[composites["role"].isin(SCORED_ROLES)]
    independent = table[table["role"] != "consensus"]
    keys = ["clip_id", "composite"]
    grouped = independent.groupby(keys, sort=True)
    result = grouped["value"].agg(["mean", "count"]).rename(
        columns={"mean": "value", "count": "n_coders"})
    result["source"] = "mean"
    result["reason"] = ""
    unrated = result["value"].isna()
    if unrated.any():
        missing = independent.set_index(keys).loc[result.index[unrated]]
        result.loc[unrated, "reason"] = missing.groupby(level=keys)["reason"].agg(
            lambda r: "; ".join(sorted(set(r))))
    if policy == "primary":
        ordered = independent.assign(
            _missing=independent["value"].isna(),
            _not_primary=independent["role"] != "primary",
        ).sort_values(["_not_primary", "rated_at", "coder"])
        preferred = ordered.drop_duplicates(keys).set_index(keys)["coder"]
        chosen = ordered.sort_values("_missing", kind="stable").drop_duplicates(
            keys).set_index(keys).reindex(result.index)
        label = chosen["role"].map(PRIMARY_POLICY_SOURCES)
        fallback = chosen["coder"].ne(preferred.reindex(result.index))
        label = label.where(~fallback, FALLBACK_SOURCE)
        result["value"] = chosen["value"]
        result["source"] = label + " (" + chosen["coder"] + ")"
        result["reason"] = chosen["reason"].fillna("")
    result = result.reset_index()[["clip_id", "composite", "value", "n_coders", "source",
                                   "reason"]]
    if policy == "consensus":
        consensus = table[(table["role"] == "consensus")].dropna(subset=["value"])
        consensus = consensus.drop_duplicates(["clip_id", "composite"]).set_index(
            ["clip_id", "composite"]
        )["value"]
        keys = pd.MultiIndex.from_frame(result[["clip_id", "composite"]])
        found = keys.isin(consensus.index)
        result.loc[found, "value"] = consensus.reindex(keys[found]).to_numpy()
        result.loc[found, "source"] = "consensus"
        result.loc[found, "reason"] = ""
    return result


def _durations(clips: pd.DataFrame) -> pd.Series:
    """end_s - start_s of each clip; NaN where either is missing or not a number."""
    if not {"start_s", "end_s"} <= set(clips.columns):
        return pd.Series(np.nan, index=clips.index)
    start = pd.to_numeric(clips["start_s"], errors="coerce")
    return pd.to_numeric(clips["end_s"], errors="coerce") - start


def _sessions(clips: pd.DataFrame, covariates: pd.DataFrame | None) -> pd.DataFrame:
    """One row per dyad x timepoint: n_clips_session, arm (sessions.csv's, else the clip
    key's) and every further sessions.csv column."""
    if "arm" not in clips.columns:
        clips = clips.assign(arm="")
    sessions = clips.groupby(SESSION_KEYS, sort=True).agg(
        n_clips_session=("clip_id", "size"), arm=("arm", "first"),
    ).reset_index()
    if covariates is not None and not covariates.empty:
        sessions = sessions.merge(covariates.drop_duplicates(SESSION_KEYS), on=SESSION_KEYS,
                                  how="outer", suffixes=("_clips", ""))
        if "arm_clips" in sessions.columns:  # sessions.csv's arm, else the clip key's
            sessions["arm"] = sessions["arm"].replace("", np.nan).fillna(
                sessions.pop("arm_clips"))
    sessions["n_clips_session"] = sessions["n_clips_session"].fillna(0).astype(int)
    sessions["arm"] = sessions["arm"].fillna("")
    return sessions


def _weighted_sums(scores: pd.DataFrame, clips: pd.DataFrame
                   ) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """Per dyad, timepoint and composite: the sums of w_i s_i and w_i and the clips scored;
    and the sessions weighted equally (a clip of unknown duration)."""
    durations = clips.assign(duration=_durations(clips))[["clip_id", *SESSION_KEYS, "duration"]]
    merged = scores.merge(durations, on="clip_id").dropna(subset=["value"])
    unusable = ~(merged["duration"] > 0)
    equal = unusable.groupby([merged[k] for k in SESSION_KEYS]).transform("any")
    merged["weight"] = merged["duration"].where(~equal, 1.0)
    merged["weighted"] = merged["weight"] * merged["value"]
    equal_sessions = set(map(tuple, merged.loc[equal, SESSION_KEYS].drop_duplicates()
                             .itertuples(index=False)))
    summary = merged.groupby([*SESSION_KEYS, "composite"]).agg(
        weighted=("weighted", "sum"), weight=("weight", "sum"), n_clips=("clip_id", "size"),
    )
    return summary, equal_sessions


def dyad_scores(
    scores: pd.DataFrame, clips: pd.DataFrame, scheme: Scheme,
    covariates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Long table, one row per dyad x timepoint x composite: score (duration-weighted mean of
    the session's clip scores, sum w_i s_i / sum w_i with w_i = end_s - start_s; equal weights
    in a session where a clip's duration is unknown, and only there), n_clips (clips scored),
    n_clips_session, share_clips_rated, weighting (per session), reason when missing; with arm
    and every further sessions.csv column."""
    unknown = sorted(set(scores["clip_id"]) - set(clips["clip_id"]))
    if unknown:
        raise PipelineError(
            f"ratings name {len(unknown)} clip(s) not in clips.csv (e.g. {unknown[0]}): "
            "restore the clips.csv the clips were pushed from, or pull again."
        )
    sessions = _sessions(clips, covariates)
    summary, equal_sessions = _weighted_sums(scores, clips)
    composites = pd.DataFrame({"composite": [c.id for c in scheme.composites],
                               "composite_label": [c.label for c in scheme.composites]})
    long = sessions.merge(composites, how="cross")
    keys = pd.MultiIndex.from_frame(long[[*SESSION_KEYS, "composite"]])
    found = summary.reindex(keys)
    long["score"] = (found["weighted"] / found["weight"]).to_numpy()
    long["n_clips"] = found["n_clips"].fillna(0).astype(int).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = long["n_clips"] / long["n_clips_session"].replace(0, np.nan)
    long["share_clips_rated"] = share.round(4)
    long["weighting"] = [
        "equal" if (dyad, timepoint) in equal_sessions else "duration"
        for dyad, timepoint in zip(long["dyad_id"], long["timepoint"], strict=True)]
    long["reason"] = np.where(
        long["score"].notna(), "",
        np.where(long["n_clips_session"] == 0, "no clips for this session in clips.csv",
                 "no clip of this session has a score for this composite"),
    )
    first = [*SESSION_KEYS, "arm"]
    covariate_columns = [c for c in sessions.columns if c not in (*first, "n_clips_session")]
    ordered = [*first, *covariate_columns, "composite", "composite_label", "score", "n_clips",
               "n_clips_session", "share_clips_rated", "weighting", "reason"]
    order = {composite.id: number for number, composite in enumerate(scheme.composites)}
    long = long.assign(_order=long["composite"].map(order))
    return long.sort_values([*SESSION_KEYS, "_order"])[ordered].reset_index(drop=True)


def wide_scores(long: pd.DataFrame) -> pd.DataFrame:
    """One row per dyad x timepoint; per composite the columns <id>, <id>_n_clips and
    <id>_share_rated."""
    index = [c for c in long.columns if c not in {
        "composite", "composite_label", "score", "n_clips", "share_clips_rated", "weighting",
        "reason",
    }]
    base = long[index].drop_duplicates(SESSION_KEYS).set_index(SESSION_KEYS)
    parts = [base]
    for composite, group in long.groupby("composite", sort=False):
        values = group.set_index(SESSION_KEYS)
        parts.append(values[["score", "n_clips", "share_clips_rated"]].rename(columns={
            "score": composite, "n_clips": f"{composite}_n_clips",
            "share_clips_rated": f"{composite}_share_rated",
        }))
    return pd.concat(parts, axis=1).reset_index()


SCORE_COLUMNS = ("score", "n_clips", "share_clips_rated")


def dyad_wide_scores(long: pd.DataFrame, timepoints: list[str] | None = None) -> pd.DataFrame:
    """One row per dyad, for repeated-measures analyses (SPSS GLM repeated measures, ...):
    columns that are the same at every timepoint of every dyad (arm, site, ...) once; per
    timepoint T (in the order of `timepoints`, then any others sorted) the columns that vary
    (<column>_T: child age, n_clips_session, ...) and per composite <id>_T, <id>_T_n_clips,
    <id>_T_share_rated. A dyad without a session at T has empty T columns."""
    present = list(pd.unique(long["timepoint"]))
    order = [t for t in (timepoints or []) if t in present]
    order += sorted(t for t in present if t not in order)
    sessions = long.drop_duplicates(SESSION_KEYS).set_index(SESSION_KEYS)
    session_columns = [c for c in sessions.columns if c not in {
        "composite", "composite_label", *SCORE_COLUMNS, "weighting", "reason"}]
    filled = sessions[session_columns].replace("", np.nan)
    varies = filled.groupby(level="dyad_id").nunique().gt(1).any()
    constant = [c for c in session_columns if not varies[c] and c != "n_clips_session"]
    varying = [c for c in session_columns if c not in constant]
    parts = [filled[constant].groupby(level="dyad_id", sort=True).first()]
    scores = long.set_index([*SESSION_KEYS, "composite"])
    for timepoint in order:
        at = sessions.xs(timepoint, level="timepoint")
        parts.append(at[varying].add_suffix(f"_{timepoint}"))
        for composite in pd.unique(long["composite"]):
            values = scores.xs((timepoint, composite), level=("timepoint", "composite"))
            parts.append(values[list(SCORE_COLUMNS)].rename(columns={
                "score": f"{composite}_{timepoint}",
                "n_clips": f"{composite}_{timepoint}_n_clips",
                "share_clips_rated": f"{composite}_{timepoint}_share_rated",
            }))
    return pd.concat(parts, axis=1).rename_axis("dyad_id").reset_index()




@dataclass(frozen=True)
class ScoreTables:
    """Every score table of a study: per clip, long (dyad x timepoint x composite), wide
    (dyad x timepoint) and by dyad (columns per timepoint, in the order of `timepoints`)."""

    per_clip: pd.DataFrame
    long: pd.DataFrame
    wide: pd.DataFrame
    by_dyad: pd.DataFrame
    timepoints: list[str]


def score_tables(
    clean: pd.DataFrame, scheme: Scheme, clips: pd.DataFrame,
    covariates: pd.DataFrame | None = None, policy: str = "primary",
    min_item_share: float = 0.75,
) -> ScoreTables:
    """All score tables from checked ratings (every role: training and recalibration ratings
    are left out here), the clip key and the sessions' covariates (sessions.csv, or None)."""
    scored = clean[clean["role"].isin(SCORED_ROLES)]
    per_clip = clip_scores(coder_composites(scored, scheme, min_item_share), policy)
    long = dyad_scores(per_clip, clips, scheme, covariates)
    sources = [covariates, clips] if covariates is not None else [clips]
    timepoints = list(pd.unique(pd.concat([t["timepoint"] for t in sources])))
    return ScoreTables(per_clip=per_clip, long=long, wide=wide_scores(long),
                       by_dyad=dyad_wide_scores(long, timepoints), timepoints=timepoints)
