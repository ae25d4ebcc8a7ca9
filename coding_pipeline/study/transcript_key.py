"""The transcript key, transcripts.csv: which opaque transcript id is which interview.

Like the clip key it is the only link from the de-identified passages (transcripts/<id>.json)
to families: written atomically with a saved copy first (STUDY/.transcripts/keys/), never
shrunk (an interview removed from interviews.csv keeps its row and its id), and checked against
its newest copy whenever it is read.
"""

from __future__ import annotations

import re
import secrets

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.folder import Study
from coding_pipeline.study.recovery import latest_copy, restore_command, write_key
from coding_pipeline.study.spreadsheets import TRANSCRIPT_KEY_COLUMNS
from coding_pipeline.study.tables import read_table

TRANSCRIPT_ID = re.compile(r"^t[0-9a-f]{12}$")  # "t" + secrets.token_hex(6)
_KEY = "transcripts.csv"


def new_transcript_id(taken: set[str]) -> str:
    """A fresh random transcript id no row has: says nothing of the family or the order."""
    while True:
        candidate = f"t{secrets.token_hex(6)}"
        if candidate not in taken:
            return candidate


def read_transcript_key(study: Study) -> pd.DataFrame:
    """transcripts.csv (empty before the first `transcripts` run), checked against its copies."""
    latest = latest_copy(study.root, _KEY)
    if not study.transcripts_csv.is_file():
        if latest is not None and latest[1]:
            raise PipelineError(
                f"{study.transcripts_csv} is missing, but its last copy lists "
                f"{len(latest[1])} transcripts: {restore_command(study.transcripts_csv, latest[0])}"
                ". Nothing was changed.")
        return pd.DataFrame(columns=TRANSCRIPT_KEY_COLUMNS, dtype=str)
    table = read_table(study.transcripts_csv, TRANSCRIPT_KEY_COLUMNS,
                       f"run `coding-pipeline transcripts {study.root}`", written=True)
    copy = latest[0] if latest else None
    duplicated = table["transcript_id"][table["transcript_id"].duplicated()].tolist()
    bad = [t for t in table["transcript_id"] if not TRANSCRIPT_ID.match(t)]
    if duplicated or bad:
        what = f"lists {duplicated[0]} twice" if duplicated else f"has a bad id '{bad[0]}'"
        raise PipelineError(
            f"{study.transcripts_csv} {what}: it was edited or damaged; "
            f"{restore_command(study.transcripts_csv, copy)}. Nothing was changed.")
    lost = sorted(latest[1] - set(table["transcript_id"])) if latest else []
    if lost:
        raise PipelineError(
            f"{study.transcripts_csv} lists {len(table)} transcripts but {len(lost)} more are "
            f"in its last copy {copy.name} (e.g. {', '.join(lost[:3])}): it was damaged or cut "
            f"short; {restore_command(study.transcripts_csv, copy)}. Nothing was changed.")
    return table[TRANSCRIPT_KEY_COLUMNS + [c for c in table.columns
                                           if c not in TRANSCRIPT_KEY_COLUMNS]]


def write_transcript_key(study: Study, table: pd.DataFrame, before: pd.DataFrame) -> bool:
    """Write transcripts.csv when it differs from `before` (as read); never fewer rows or ids.

    Returns whether it was written.
    """
    missing = set(before["transcript_id"]) - set(table["transcript_id"])
    if missing:
        raise RuntimeError(f"transcript key would lose {sorted(missing)}")  # a bug, not a user's
    table = table[TRANSCRIPT_KEY_COLUMNS].fillna("").astype(str).reset_index(drop=True)
    old = before[TRANSCRIPT_KEY_COLUMNS].fillna("").astype(str).reset_index(drop=True)
    if study.transcripts_csv.is_file() and table.equals(old):
        return False
    write_key(study.root, _KEY, table)
    return True
