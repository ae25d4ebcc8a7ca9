"""Interview scores (reflective functioning): items -> a coder's composites on an interview ->
one score per interview by the clip policy -> one row per dyad and timepoint, and those
scores added to the wide dyad tables.

The same steps as for clips (`scores.core`: `coder_composites`, `clip_scores` with the study's
[scores] clip_policy primary | mean | consensus and min_item_share), interviews being the
units; a session has one interview, so no weighting over units. Pure: checked interview
ratings and the transcript key in, tables out.
"""

from __future__ import annotations

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import Scheme
from coding_pipeline.scores.core import (
    SCORED_ROLES,
    SESSION_KEYS,
    ScoreTables,
    clip_scores,
    coder_composites,
)

KEY_COLUMNS = ["dyad_id", "timepoint", "arm", "interview", "transcript_id"]


def interview_scores(clean: pd.DataFrame, scheme: Scheme, key: pd.DataFrame,
                     policy: str = "primary", min_item_share: float = 0.75) -> pd.DataFrame:
    """One row per dyad and timepoint: dyad_id, timepoint, arm, interview, transcript_id, per
    composite its score, then n_coders (coders who rated the interview), source (whose
    rating: see `clip_scores`) and reason (why a composite is missing)."""
    scored = clean[clean["role"].isin(SCORED_ROLES)]
    per_unit = clip_scores(coder_composites(scored, scheme, min_item_share), policy)
    composites = [c.id for c in scheme.composites]
    values = per_unit.pivot(index="clip_id", columns="composite", values="value")
    values = values.reindex(columns=composites)
    grouped = per_unit.groupby("clip_id")
    extra = pd.DataFrame({
        "n_coders": grouped["n_coders"].max(),
        "source": grouped["source"].agg(lambda s: "; ".join(dict.fromkeys(s))),
        "reason": grouped["reason"].agg(lambda r: "; ".join(dict.fromkeys(x for x in r if x))),
    })
    units = key.assign(transcript_id=key["transcript_id"].astype(str))[KEY_COLUMNS]
    table = units.merge(values.join(extra), left_on="transcript_id", right_index=True)
    twice = table[table.duplicated(SESSION_KEYS, keep=False)]
    if not twice.empty:
        first = twice.iloc[0]
        raise PipelineError(
            f"dyad {first['dyad_id']} at {first['timepoint']} has more than one rated interview "
            f"({', '.join(twice['transcript_id'][:2])}): interview scores take one interview "
            "per dyad and timepoint; keep one kind of interview in ratings.csv.")
    table["n_coders"] = table["n_coders"].astype(int)
    return table.sort_values(SESSION_KEYS, kind="stable").reset_index(drop=True)


def interview_labels(scheme: Scheme, timepoints: list[str]) -> dict[str, str]:
    """Variable labels of the interview columns (wide: <id>; by dyad: <id>_<timepoint>)."""
    labels = {"interview": "Interview", "transcript_id": "Transcript id",
              "n_coders": "Coders who rated the interview", "source": "Whose rating scored it",
              "reason": "Why a score is missing"}
    for composite in scheme.composites:
        labels[composite.id] = f"{composite.label} (interview)"
        for timepoint in timepoints:
            labels[f"{composite.id}_{timepoint}"] = (f"{composite.label} (interview) at "
                                                     f"{timepoint}")
    return labels


def with_interview_scores(tables: ScoreTables, scores: pd.DataFrame, scheme: Scheme
                          ) -> ScoreTables:
    """The score tables with the interview composites added: to the wide table (dyad x
    timepoint; a session with an interview but no video gets a row) and to the table by
    dyad (<id>_<timepoint>, timepoints in the tables' order, then any others)."""
    composites = [c.id for c in scheme.composites]
    taken = [c for c in composites if c in tables.wide.columns]
    if taken:
        raise PipelineError(f"interview composite(s) {', '.join(taken)} have the name of a "
                            "video score: rename them in the interview scheme.")
    wide = _with_arm(_joined(tables.wide, scores[SESSION_KEYS + composites].set_index(
        SESSION_KEYS)), scores)
    order = list(tables.timepoints) + sorted(set(scores["timepoint"]) - set(tables.timepoints))
    by_timepoint = scores.pivot(index="dyad_id", columns="timepoint", values=composites)
    columns = {(c, t): f"{c}_{t}" for t in order for c in composites
               if (c, t) in by_timepoint.columns}
    by_timepoint = by_timepoint[list(columns)].set_axis(list(columns.values()), axis=1)
    by_dyad = _with_arm(_joined(tables.by_dyad, by_timepoint.rename_axis("dyad_id")), scores)
    return ScoreTables(per_clip=tables.per_clip, long=tables.long, wide=wide, by_dyad=by_dyad,
                       timepoints=tables.timepoints)


def _joined(table: pd.DataFrame, added: pd.DataFrame) -> pd.DataFrame:
    """`table` with the columns of `added` (indexed by some of table's columns) on its rows in
    its order, then rows for the keys only `added` has."""
    keys = list(added.index.names)
    joined = table.merge(added.reset_index(), on=keys, how="left")
    present = pd.MultiIndex.from_frame(table[keys]) if len(keys) > 1 else pd.Index(table[keys[0]])
    extra = added[~added.index.isin(present)].reset_index()
    if not len(extra):
        return joined
    whole = [c for c in table.columns if pd.api.types.is_integer_dtype(table[c])]
    # counts stay whole numbers (empty on the added rows), not floats
    return pd.concat([joined, extra], ignore_index=True).astype(dict.fromkeys(whole, "Int64"))


def _with_arm(table: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The arm of rows added for interviews alone, from the transcript key."""
    if "arm" in table.columns:
        arms = scores.drop_duplicates("dyad_id").set_index("dyad_id")["arm"]
        table["arm"] = table["arm"].fillna(table["dyad_id"].map(arms)).fillna("")
    return table
