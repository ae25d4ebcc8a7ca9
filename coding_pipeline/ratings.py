"""STUDY/ratings.csv, read and checked once for every consumer (reliability, scores,
consensus, the report, recalibration batches): the file, the scheme and the checks of
`coding_pipeline.rating_checks`, in one object the stages pass along.

A unit is a clip (its id in clips.csv) or an interview (its transcript_id in transcripts.csv),
and ratings.csv's `clip_id` column holds either (`unit_kind`). The two kinds are read apart:

- `read_study_ratings` / `study_ratings`: the clip rows, checked against the study's video
  scheme. Interview rows are left out (they would fail the video scheme's item check), so
  every consumer of clip ratings (scores, consensus, the report, batches) ignores them;
- `read_interview_ratings`: the interview rows, checked against study.toml's [interviews]
  scheme (items: the demand questions and `overall`; values -1..9; a "not codable" passage
  is a row with an empty value and status not_codable: missing, never a number).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.rating_checks import (
    RELIABILITY_ROLES,
    REQUIRED_RATING_COLUMNS,
    TRAINING_ROLES,
    check_ratings,
    clean_ratings,
    rating_use,
)
from coding_pipeline.scheme import TRANSCRIPT, Scheme, load_scheme
from coding_pipeline.study import Study, read_table, read_transcript_key, resolve_scheme

__all__ = [
    "CLIP", "INTERVIEW", "RELIABILITY_ROLES", "REQUIRED_RATING_COLUMNS", "TRAINING_ROLES",
    "StudyRatings", "check_ratings", "clean_ratings", "interview_ids", "interview_scheme_of",
    "rating_use", "read_interview_ratings", "read_ratings_by_kind", "read_study_ratings",
    "study_ratings", "unit_kind",
]

CLIP, INTERVIEW = "clip", "interview"


@dataclass(frozen=True)
class StudyRatings:
    """A study's checked ratings (`check_ratings` output), the warnings the check gave, the
    scheme they were checked against and the file they came from."""

    table: pd.DataFrame
    warnings: list[str]
    scheme: Scheme
    source: str


def interview_ids(study: Study) -> set[str]:
    """The transcript ids of transcripts.csv (none before the first `transcripts` run)."""
    return set(read_transcript_key(study)["transcript_id"].astype(str).str.strip())


def unit_kind(study: Study) -> dict[str, str]:
    """Unit id -> "clip" (clips.csv) or "interview" (transcripts.csv): which scheme rates it."""
    kinds: dict[str, str] = {}
    if study.clips_csv.is_file():
        clips = read_table(study.clips_csv, ["clip_id"], "", written=True)
        kinds.update(dict.fromkeys(clips["clip_id"].astype(str).str.strip(), CLIP))
    kinds.update(dict.fromkeys(interview_ids(study), INTERVIEW))
    return kinds


def interview_scheme_of(study: Study) -> Scheme:
    """study.toml's [interviews] scheme as a coding scheme (its items, -1..9 scale and
    composites): a file in the study folder, else a shipped scheme."""
    name = study.config.interview_scheme
    local = study.absolute(name)
    scheme = load_scheme(local if local.is_file() else resolve_scheme(name))
    if scheme.kind != TRANSCRIPT:
        raise PipelineError(f"{study.toml_path}: [interviews] scheme '{name}' is a "
                            f"{scheme.kind} scheme: name a transcript scheme (pdi-rf.yaml).")
    return scheme


def _read_ratings(study: Study) -> tuple[pd.DataFrame, np.ndarray]:
    """ratings.csv and, per row, whether its unit is an interview."""
    ratings = read_table(study.ratings_csv, REQUIRED_RATING_COLUMNS,
                         f"run `coding-pipeline pull {study.root}` first")
    ids = interview_ids(study) if study.transcripts_csv.is_file() else set()
    units = ratings["clip_id"].fillna("").astype(str).str.strip()
    return ratings, units.isin(ids).to_numpy() if ids else np.zeros(len(ratings), bool)


def _clip_ratings(study: Study, ratings: pd.DataFrame, interviews: np.ndarray
                  ) -> StudyRatings:
    scheme = load_scheme(study.scheme_path)
    source = str(study.ratings_csv)
    table, warnings = check_ratings(ratings, scheme, source,
                                    ~interviews if interviews.any() else None)
    return StudyRatings(table=table, warnings=warnings, scheme=scheme, source=source)


def _interview_ratings(study: Study, ratings: pd.DataFrame, interviews: np.ndarray
                       ) -> StudyRatings | None:
    if not interviews.any():
        return None
    scheme = interview_scheme_of(study)
    source = f"{study.ratings_csv} (interviews)"
    table, warnings = check_ratings(ratings, scheme, source, interviews)
    return StudyRatings(table=table, warnings=warnings, scheme=scheme, source=source)


def read_study_ratings(study: Study) -> StudyRatings:
    """Read STUDY/ratings.csv and the study's (video) scheme, and check the clip ratings
    against it; interview rows are left out (see `read_interview_ratings`)."""
    return _clip_ratings(study, *_read_ratings(study))


def read_interview_ratings(study: Study) -> StudyRatings | None:
    """The interview rows of STUDY/ratings.csv checked against the [interviews] scheme, or
    None when the study has no interview ratings (no ratings.csv, or no interview row)."""
    if not study.ratings_csv.is_file() or not study.transcripts_csv.is_file():
        return None
    return _interview_ratings(study, *_read_ratings(study))


def read_ratings_by_kind(study: Study) -> tuple[StudyRatings | None, StudyRatings | None]:
    """STUDY/ratings.csv read once: the clip ratings (`read_study_ratings`; None when every
    row is an interview's) and the interview ratings (`read_interview_ratings`)."""
    ratings, interviews = _read_ratings(study)
    only_interviews = interviews.size and interviews.all()
    return (None if only_interviews else _clip_ratings(study, ratings, interviews),
            _interview_ratings(study, ratings, interviews))


def study_ratings(study: Study) -> pd.DataFrame:
    """The study's checked clip ratings, without the warnings."""
    return read_study_ratings(study).table
