"""STUDY/ratings.csv, read and checked once for every consumer (reliability, scores,
consensus, the report, recalibration batches): the file, the study's scheme and the checks of
`coding_pipeline.rating_checks`, in one object the stages pass along.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from coding_pipeline.rating_checks import (
    RELIABILITY_ROLES,
    REQUIRED_RATING_COLUMNS,
    TRAINING_ROLES,
    check_ratings,
    clean_ratings,
    rating_use,
)
from coding_pipeline.scheme import Scheme, load_scheme
from coding_pipeline.study import Study, read_table

__all__ = [
    "RELIABILITY_ROLES", "REQUIRED_RATING_COLUMNS", "TRAINING_ROLES", "StudyRatings",
    "check_ratings", "clean_ratings", "rating_use", "read_study_ratings",
    "study_ratings",
]


@dataclass(frozen=True)
class StudyRatings:
    """A study's checked ratings (`check_ratings` output), the warnings the check gave, the
    scheme they were checked against and the file they came from."""

    table: pd.DataFrame
    warnings: list[str]
    scheme: Scheme
    source: str


def read_study_ratings(study: Study) -> StudyRatings:
    """Read STUDY/ratings.csv and the study's scheme, and check the ratings against it."""
    ratings = read_table(study.ratings_csv, REQUIRED_RATING_COLUMNS,
                         f"run `coding-pipeline pull {study.root}` first")
    scheme = load_scheme(study.scheme_path)
    source = str(study.ratings_csv)
    table, warnings = check_ratings(ratings, scheme, source)
    return StudyRatings(table=table, warnings=warnings, scheme=scheme, source=source)


def study_ratings(study: Study) -> pd.DataFrame:
    """The study's checked ratings, without the warnings."""
    return read_study_ratings(study).table
