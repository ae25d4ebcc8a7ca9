"""The ratings table's rules (pure: tables in, tables out): its columns, what each rating role
is for, and the checks of its rows against a scheme.

`coding_pipeline.ratings` reads STUDY/ratings.csv and applies these checks once for every
consumer; the scoring core and the reliability statistics take the checked table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import Scheme

REQUIRED_RATING_COLUMNS = ["clip_id", "coder", "item", "value"]
MISSING_VALUES = {"", "nan", "na", "n/a", "none", "null", "<na>", "nat", ".", "-"}  # any case
RELIABILITY_ROLES = ("", "primary", "reliability")  # independent ratings of study clips
TRAINING_ROLES = ("training", "master")  # certification only
CHECKED_COLUMNS = ["clip_id", "coder", "item", "value", "role", "batch", "rated_at", "line"]
_TEXT_COLUMNS = ("clip_id", "coder", "item", "role", "batch", "status")


def rating_use(roles: pd.Series) -> pd.Series:
    """What a rating is for, by its role: "training" (training, master: certification),
    "recalibration" (recertification), "consensus", or "study" (primary, reliability or no
    role: reliability and scores)."""
    return pd.Series(np.select(
        [roles.isin(TRAINING_ROLES), roles == "recalibration", roles == "consensus"],
        ["training", "recalibration", "consensus"], "study",
    ), index=roles.index)


def clean_ratings(ratings: pd.DataFrame, scheme: Scheme, source: str = "ratings") -> pd.DataFrame:
    """Checked ratings (see `check_ratings`), without the warnings."""
    return check_ratings(ratings, scheme, source)[0]


def check_ratings(
    ratings: pd.DataFrame, scheme: Scheme, source: str = "ratings",
    rows: np.ndarray | None = None,
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

    `rows`: which rows of `ratings` to check (a boolean array in file order; default all),
    the others left out while every message keeps the file's line numbers: the clip rows of
    a file that also holds interview rows, checked against the video scheme, and vice versa.
    Rows whose status is "not_codable" (an interview passage that could not be rated) have
    an empty value and are left out: a missing rating, never a number.
    """
    table = _rated_rows(ratings, source, rows)
    _check_items_and_values(table, ratings.reset_index(drop=True)["value"], scheme, source)
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
    table, duplicate_warnings = _latest_per_use(table, source)
    return (table.sort_values("line")[CHECKED_COLUMNS].reset_index(drop=True),
            spelling_warnings + duplicate_warnings)


def _rated_rows(ratings: pd.DataFrame, source: str, rows: np.ndarray | None = None
                ) -> pd.DataFrame:
    """The rows with a value (and status rated, when there is a status), numbered by file line,
    text columns stripped, values as numbers (NaN where not a number); only `rows` when given."""
    missing = [c for c in REQUIRED_RATING_COLUMNS if c not in ratings.columns]
    if missing:
        raise PipelineError(
            f"{source}: missing column(s) {', '.join(missing)}; a ratings file needs "
            f"{', '.join(REQUIRED_RATING_COLUMNS)}."
        )
    table = ratings.reset_index(drop=True).copy()
    table["line"] = np.arange(len(table)) + 2
    if rows is not None:
        table = table[np.asarray(rows, dtype=bool)]
    for column in _TEXT_COLUMNS:
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
    return table


def _check_items_and_values(table: pd.DataFrame, raw: pd.Series, scheme: Scheme,
                            source: str) -> None:
    """Every item is in the scheme and every value a point of its item's scale; `raw` is the
    file's value column, to quote a bad value as written."""
    unknown = table[~table["item"].isin(set(scheme.item_ids))]
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


def _latest_per_use(table: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list[str]]:
    """The latest rating of each use, batch, clip, coder and item, then of each use, clip,
    coder and item; warnings (by first line named) where the dropped values differ."""
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
    return table, [text for _, text in sorted(warnings)]


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
