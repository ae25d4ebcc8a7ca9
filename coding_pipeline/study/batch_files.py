"""The coders' batch files, STUDY/batches/NAME.csv: the one reader of their rows.

Each batch's planning and its NAME.json live in `coding_pipeline.batches`; here is only what
every stage needs to read them: the files, and the clips each one gave to coders.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.folder import Study
from coding_pipeline.study.tables import read_table
from coding_pipeline.study.transcript_key import TRANSCRIPT_ID


def batch_csv_paths(study: Study) -> list[Path]:
    """Every batches/*.csv by name, with or without its NAME.json (a batch cut short, or one
    written by hand)."""
    return [path for path in sorted(study.batches_dir.glob("*.csv")) if path.is_file()]


def read_batch_csv(path: Path, required: Sequence[str] = ()) -> pd.DataFrame:
    """One batch's rows as text columns, checked whole: a file cut short or edited is an
    error saying how to restore it; a missing `required` column is an error naming it."""
    return read_table(path, list(required), "", written=True)


def batch_clip_ids(study: Study, skip_unreadable: bool = False) -> dict[Path, set[str]]:
    """The clip ids in each batches/*.csv that has a clip_id column (not the transcript ids
    that batches of interviews hold in that column).

    A damaged or unreadable file stops with its error, or is left out with `skip_unreadable`
    (for checks that only look for more evidence, such as the clip key's).
    """
    given: dict[Path, set[str]] = {}
    for path in batch_csv_paths(study):
        try:
            table = read_batch_csv(path)
        except PipelineError:
            if skip_unreadable:
                continue
            raise
        if "clip_id" in table.columns:
            given[path] = {c for c in table["clip_id"] if not TRANSCRIPT_ID.match(c)}
    return given
