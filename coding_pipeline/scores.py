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

The pure functions take and return tables; `score_study` reads and writes the study folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import Scheme, load_scheme
from coding_pipeline.study import (
    Study,
    atomic_path,
    read_clips,
    read_session_covariates,
    read_table,
    write_csv_atomic,
)

REQUIRED_RATING_COLUMNS = ["clip_id", "coder", "item", "value"]
MISSING_VALUES = {"", "nan", "na", "n/a", "none", "null", "<na>", "nat", ".", "-"}  # any case
RELIABILITY_ROLES = ("", "primary", "reliability")  # independent ratings of study clips
TRAINING_ROLES = ("training", "master")  # certification only
SCORED_ROLES = ("", "primary", "reliability", "consensus")
POLICIES = ("primary", "mean", "consensus")
PRIMARY_POLICY_SOURCES = {  # whose rating the primary policy used, by that coder's role
    "primary": "primary",
    "reliability": "reliability coder (primary not rated)",
    "": "first coder to rate, no roles",
}
FALLBACK_SOURCE = "second coder (primary's composite missing)"  # or the first coder's
SESSION_KEYS = ["dyad_id", "timepoint"]


# ---------------------------------------------------------------- ratings


def clean_ratings(ratings: pd.DataFrame, scheme: Scheme, source: str = "ratings") -> pd.DataFrame:
    """Checked ratings (see `check_ratings`), without the warnings."""
    return check_ratings(ratings, scheme, source)[0]


def check_ratings(
    ratings: pd.DataFrame, scheme: Scheme, source: str = "ratings"
) -> tuple[pd.DataFrame, list[str]]:
    """Checked ratings: clip_id, coder, item, value (float), role, batch, rated_at, line; and
    warnings about conflicting duplicate ratings.

    Keeps rows whose status is "rated" (all rows without a status column) and a non-blank value.
    A missing column, an unknown item, a value that is not a point of the item's scale, or no
    rating at all is a `PipelineError` naming the file line (the header is line 1).

    The same clip can be rated by the same coder in a training batch (role training/master)
    and in a coding batch (primary/reliability), or as a consensus rating: these are separate
    ratings for separate uses and all are kept. Within one use, when a coder rated the same
    clip and item more than once (in one batch, or in several), the latest is kept (latest
    updated_at, else the last row); differing values are reported as a warning naming the
    clip, coder, item and lines.
    """
    missing = [c for c in REQUIRED_RATING_COLUMNS if c not in ratings.columns]
    if missing:
        raise PipelineError(
            f"{source}: missing column(s) {', '.join(missing)}; a ratings file needs "
            f"{', '.join(REQUIRED_RATING_COLUMNS)}."
        )
    table = ratings.reset_index(drop=True).copy()
    table["line"] = np.arange(len(table)) + 2
    for column in ("clip_id", "coder", "item", "role", "batch", "status"):
        if column in table.columns:
            # numpy objects: pandas' Arrow strings make every boolean selection a slow take
            table[column] = table[column].fillna("").astype(str).str.strip().astype(object)
    if "status" in table.columns:
        table = table[table["status"].str.lower().isin(["rated", ""])]
    text = table["value"].astype(str).str.strip().str.lower()
    table = table[~text.isin(MISSING_VALUES) & table["value"].notna()].copy()
    if table.empty:
        raise PipelineError(
            f"no ratings in {source}: it has no row with a value"
            + (" and status rated" if "status" in ratings.columns else "")
            + "; pull the coders' annotations first, or check the file."
        )
    table["value"] = pd.to_numeric(table["value"], errors="coerce")
    raw = ratings.reset_index(drop=True)["value"]
    known = set(scheme.item_ids)
    unknown = table[~table["item"].isin(known)]
    if not unknown.empty:
        first = unknown.iloc[0]
        raise PipelineError(
            f"{source} line {first['line']}: item '{first['item']}' is not in the scheme "
            f"'{scheme.name}' (items: {', '.join(scheme.item_ids)}); use the matching scheme."
        )
    for item in scheme.items:
        rows = table[table["item"] == item.id]
        bad = rows[~rows["value"].isin(item.scale.points)]
        if not bad.empty:
            first = bad.iloc[0]
            shown = raw.iloc[first["line"] - 2]
            raise PipelineError(
                f"{source} line {first['line']}: value '{shown}' for item '{item.id}' "
                f"(clip {first['clip_id']}, coder {first['coder']}) is not a point of its "
                f"scale {item.scale.min}-{item.scale.max}; correct or remove that row."
            )
    for column in ("role", "batch"):
        if column not in table.columns:
            table[column] = ""
    table["role"] = table["role"].str.lower()
    spelling_warnings = _one_spelling_per_coder(table, source)
    stamp = table.get("created_at", table.get("updated_at"))
    table["rated_at"] = (
        pd.to_datetime(stamp, utc=True, errors="coerce", format="ISO8601")
        if stamp is not None else pd.NaT
    )
    table["use"] = rating_use(table["role"])
    if "updated_at" in table.columns:
        order = pd.to_datetime(table["updated_at"], utc=True, errors="coerce", format="ISO8601")
        table = table.assign(_order=order).sort_values(["_order", "line"], na_position="first")
    warnings: list[tuple[int, str]] = []  # (first line named, text)
    for keys, where in ((["use", "batch", "clip_id", "coder", "item"], ""),
                        (["use", "clip_id", "coder", "item"], " in different batches")):
        duplicated = table.duplicated(keys, keep=False)
        for _, group in table[duplicated].groupby(keys, sort=False):
            if group["value"].nunique() > 1:
                warnings.append((group["line"].min(), _duplicate_warning(group, source, where)))
        table = table.drop_duplicates(keys, keep="last")
    columns = ["clip_id", "coder", "item", "value", "role", "batch", "rated_at", "line"]
    return table.sort_values("line")[columns].reset_index(drop=True), spelling_warnings + [
        text for _, text in sorted(warnings)]


def _one_spelling_per_coder(table: pd.DataFrame, source: str) -> list[str]:
    """Coder emails compare case-insensitively: every spelling of one email becomes its first
    spelling (in file order), with a warning naming the spellings."""
    lowered = table["coder"].str.lower()
    first = table.groupby(lowered, sort=False)["coder"].first()
    spellings = table.groupby(lowered, sort=False)["coder"].unique()
    warnings = [
        f"{source}: coder {' and '.join(repr(s) for s in found)} differ only in upper/lower "
        f"case and are taken as one coder, {first[key]!r} (emails compare case-insensitively)."
        for key, found in spellings.items() if len(found) > 1]
    table["coder"] = lowered.map(first)
    return warnings


def _duplicate_warning(group: pd.DataFrame, source: str, where: str) -> str:
    """One line about a coder's differing ratings of one clip and item; `group` is in the
    order of preference, the last row is kept."""
    first = group.iloc[0]
    by_line = group.sort_values("line")
    values = ", ".join(f"{v:g}" for v in by_line["value"])
    lines = ", ".join(str(n) for n in by_line["line"])
    batches = (f" (batches {', '.join(dict.fromkeys(by_line['batch']))})" if where else "")
    return (
        f"{source}: clip {first['clip_id']}, coder {first['coder']}, item {first['item']} "
        f"rated {len(group)} times{where}{batches} with different values ({values}) on "
        f"lines {lines}; kept line {group['line'].iloc[-1]} (the latest)."
    )


def rating_use(roles: pd.Series) -> pd.Series:
    """What a rating is for, by its role: "training" (training, master: certification),
    "recalibration" (recertification), "consensus", or "study" (primary, reliability or no
    role: reliability and scores)."""
    return pd.Series(np.select(
        [roles.isin(TRAINING_ROLES), roles == "recalibration", roles == "consensus"],
        ["training", "recalibration", "consensus"], "study",
    ), index=roles.index)


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


def dyad_scores(
    scores: pd.DataFrame, clips: pd.DataFrame, scheme: Scheme,
    covariates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Long table, one row per dyad x timepoint x composite: score (duration-weighted mean of
    the session's clip scores, sum w_i s_i / sum w_i with w_i = end_s - start_s; equal weights
    in a session where a clip's duration is unknown, and only there), n_clips (clips scored),
    n_clips_session, share_clips_rated, weighting (per session), reason when missing; with arm
    and every further sessions.csv column."""
    clips = clips.copy()
    clips["duration"] = _durations(clips)
    unknown = sorted(set(scores["clip_id"]) - set(clips["clip_id"]))
    if unknown:
        raise PipelineError(
            f"ratings name {len(unknown)} clip(s) not in clips.csv (e.g. {unknown[0]}): "
            "restore the clips.csv the clips were pushed from, or pull again."
        )
    if "arm" not in clips.columns:
        clips["arm"] = ""
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
    merged = scores.merge(clips[["clip_id", *SESSION_KEYS, "duration"]], on="clip_id")
    merged = merged.dropna(subset=["value"])
    unusable = ~(merged["duration"] > 0)
    equal = unusable.groupby([merged[k] for k in SESSION_KEYS]).transform("any")
    merged["weight"] = merged["duration"].where(~equal, 1.0)
    merged["weighted"] = merged["weight"] * merged["value"]
    equal_sessions = set(map(tuple, merged.loc[equal, SESSION_KEYS].drop_duplicates()
                             .itertuples(index=False)))
    summary = merged.groupby([*SESSION_KEYS, "composite"]).agg(
        weighted=("weighted", "sum"), weight=("weight", "sum"), n_clips=("clip_id", "size"),
    )
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


# ---------------------------------------------------------------- files


def _numeric_where_possible(table: pd.DataFrame, keep_text: list[str]) -> pd.DataFrame:
    """Columns of numbers written as text (child age, ...) become numeric for Parquet/SPSS."""
    table = table.copy()
    for column in table.columns:
        if column in keep_text or pd.api.types.is_numeric_dtype(table[column]):
            continue
        text = table[column].astype(str).str.strip()
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        if numbers.notna().sum() == (text != "").sum() and numbers.notna().any():
            table[column] = numbers
    return table


def _spss_name(name: str, taken: set[str]) -> str:
    """A valid, unique SPSS variable name (letters, digits, _; starts with a letter; <= 64)."""
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"v_{cleaned}"
    cleaned = cleaned[:60]
    candidate, number = cleaned, 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{cleaned}_{number}"
    taken.add(candidate.lower())
    return candidate


CODED_COLUMNS = {"timepoint": "ordinal", "arm": "nominal", "composite": "nominal"}


def _is_score_column(column: str, composites: list[str]) -> bool:
    """score (long), <composite> (wide) or <composite>_<timepoint> (by dyad)."""
    return column == "score" or column in composites or any(
        column.startswith(f"{c}_") and not column.endswith(("_n_clips", "_share_rated"))
        for c in composites)


def write_sav(table: pd.DataFrame, path: Path, labels: dict[str, str],
              scheme: Scheme | None = None) -> None:
    """SPSS .sav with variable labels, measure levels (text and codes nominal, timepoint
    codes ordinal, numbers scale), timepoint/arm/composite also as labelled numeric codes,
    and the scale's end points labelled on the score columns of `scheme`'s composites."""
    import pyreadstat

    taken: set[str] = set()
    renamed = {c: _spss_name(c, taken) for c in table.columns}
    data = table.rename(columns=renamed)
    column_labels = {renamed[c]: labels.get(c, c) for c in table.columns}
    value_labels: dict[str, dict[float, str]] = {}
    measure: dict[str, str] = {}
    composite_labels = {c.id: c.label for c in scheme.composites} if scheme else {}
    for column, level in CODED_COLUMNS.items():
        if column not in table.columns:
            continue
        levels = [v for v in pd.unique(table[column].astype(str)) if v]
        name = _spss_name(f"{column}_code", taken)
        codes = {text: number for number, text in enumerate(levels, start=1)}
        data[name] = table[column].astype(str).map(codes).astype(float)
        value_labels[name] = {number: composite_labels.get(text, text)
                              for text, number in codes.items()}
        column_labels[name] = f"{column} (numeric code)"
        measure[name] = level
    if scheme is not None and scheme.items:
        low, high = (min(i.scale.min for i in scheme.items),
                     max(i.scale.max for i in scheme.items))
        ends = {float(low): f"{low}: lowest scale point",
                float(high): f"{high}: highest scale point"}
        for column in table.columns:
            if _is_score_column(column, list(composite_labels)):
                value_labels[renamed[column]] = ends
    for column in data.columns:
        if pd.api.types.is_numeric_dtype(data[column]):
            measure.setdefault(column, "scale")
        else:
            data[column] = data[column].fillna("").astype(str)
            measure.setdefault(column, "nominal")
    with atomic_path(path) as temp:
        pyreadstat.write_sav(
            data, str(temp), column_labels=column_labels, variable_value_labels=value_labels,
            variable_measure=measure,
        )


def _by_dyad_labels(scheme: Scheme, by_dyad: pd.DataFrame, timepoints: list[str]
                    ) -> dict[str, str]:
    """SPSS variable labels of the one-row-per-dyad table ("Maternal sensitivity at post")."""
    labels = _labels(scheme, wide=False)
    for timepoint in timepoints:
        suffix = f"_{timepoint}"
        for column in by_dyad.columns:
            if column.endswith(suffix):  # a covariate that varies by timepoint
                base = column.removesuffix(suffix)
                labels[column] = f"{labels.get(base, base)} at {timepoint}"
        for composite in scheme.composites:
            name, label = f"{composite.id}_{timepoint}", f"{composite.label} at {timepoint}"
            labels[name] = label
            labels[f"{name}_n_clips"] = f"{label}: clips scored"
            labels[f"{name}_share_rated"] = f"{label}: share of clips scored"
    return labels


def _labels(scheme: Scheme, wide: bool) -> dict[str, str]:
    labels = {
        "dyad_id": "Dyad", "timepoint": "Timepoint", "arm": "Arm", "composite": "Composite",
        "composite_label": "Composite label", "score": "Score (duration-weighted mean of clips)",
        "n_clips": "Clips scored", "n_clips_session": "Clips in the session",
        "share_clips_rated": "Share of the session's clips scored",
        "weighting": "Clip weighting", "reason": "Why the score is missing",
    }
    if wide:
        for composite in scheme.composites:
            labels[composite.id] = composite.label
            labels[f"{composite.id}_n_clips"] = f"{composite.label}: clips scored"
            labels[f"{composite.id}_share_rated"] = f"{composite.label}: share of clips scored"
    return labels


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as temp:
        table.to_parquet(temp, index=False)


def score_study(study: Study, warnings: list[str] | None = None) -> dict[str, Path]:
    """Write STUDY/scores/: clip_scores.csv, dyad_scores.csv/.parquet/.sav (long: dyad x
    timepoint x composite), dyad_scores_wide.csv/.parquet/.sav (dyad x timepoint) and
    dyad_scores_by_dyad.csv/.parquet/.sav (one row per dyad, columns per timepoint).

    Uses study.toml's [scores] clip_policy and min_item_share. Returns label -> path written;
    warnings about the ratings (see `check_ratings`) are appended to `warnings` when given.
    """
    ratings = read_table(
        study.ratings_csv, REQUIRED_RATING_COLUMNS,
        f"run `coding-pipeline pull {study.root}` first",
    )
    scheme = load_scheme(study.scheme_path)
    clean, found = check_ratings(ratings, scheme, source=str(study.ratings_csv))
    if warnings is not None:
        warnings.extend(found)
    clean = clean[clean["role"].isin(SCORED_ROLES)]
    composites = coder_composites(clean, scheme, study.config.min_item_share)
    per_clip = clip_scores(composites, study.config.clip_policy)
    clips = read_clips(study)
    covariates = read_session_covariates(study) if study.sessions_csv.is_file() else None
    long = dyad_scores(per_clip, clips, scheme, covariates)
    wide = wide_scores(long)
    sources = [covariates, clips] if covariates is not None else [clips]
    timepoints = list(pd.unique(pd.concat([t["timepoint"] for t in sources])))
    by_dyad = dyad_wide_scores(long, timepoints)
    out = study.scores_dir
    written = {
        "per clip CSV": out / "clip_scores.csv",
        "long CSV": out / "dyad_scores.csv",
        "long Parquet": out / "dyad_scores.parquet",
        "long SPSS": out / "dyad_scores.sav",
        "wide CSV": out / "dyad_scores_wide.csv",
        "wide Parquet": out / "dyad_scores_wide.parquet",
        "wide SPSS": out / "dyad_scores_wide.sav",
        "by dyad CSV": out / "dyad_scores_by_dyad.csv",
        "by dyad Parquet": out / "dyad_scores_by_dyad.parquet",
        "by dyad SPSS": out / "dyad_scores_by_dyad.sav",
    }
    write_csv_atomic(written["per clip CSV"], per_clip)
    write_csv_atomic(written["long CSV"], long)
    write_csv_atomic(written["wide CSV"], wide)
    text_columns = ["dyad_id", "timepoint", "arm"]
    long_typed = _numeric_where_possible(long, text_columns)
    wide_typed = _numeric_where_possible(wide, text_columns)
    _write_parquet(long_typed, written["long Parquet"])
    _write_parquet(wide_typed, written["wide Parquet"])
    write_sav(long_typed, written["long SPSS"], _labels(scheme, wide=False), scheme)
    write_sav(wide_typed, written["wide SPSS"], _labels(scheme, wide=True), scheme)
    write_csv_atomic(written["by dyad CSV"], by_dyad)
    by_dyad_typed = _numeric_where_possible(by_dyad, text_columns)
    _write_parquet(by_dyad_typed, written["by dyad Parquet"])
    write_sav(by_dyad_typed, written["by dyad SPSS"],
              _by_dyad_labels(scheme, by_dyad, timepoints), scheme)
    return written
