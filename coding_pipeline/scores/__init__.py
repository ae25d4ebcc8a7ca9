"""Per-dyad scores: items -> a coder's composites on a clip -> clip scores -> dyad x timepoint.

- `core`: the scoring itself (pure: checked ratings and the clip key in, tables out).
- `interviews`: interview (reflective functioning) scores per dyad and timepoint, and their
  columns in the wide tables (pure).
- `files`: the study's score files (CSV, Parquet, SPSS) and `score_study`.

The ratings' columns, roles and checks are `coding_pipeline.rating_checks`, re-exported here
for the code that imported them from `scores`.
"""

from coding_pipeline.rating_checks import (
    RELIABILITY_ROLES,
    REQUIRED_RATING_COLUMNS,
    check_ratings,
    clean_ratings,
)
from coding_pipeline.scores.core import (
    ScoreTables,
    clip_scores,
    coder_composites,
    dyad_scores,
    dyad_wide_scores,
    score_tables,
    wide_scores,
)
from coding_pipeline.scores.files import (
    score_study,
    study_scores,
    write_parquet,
    write_sav,
    write_scores,
)
from coding_pipeline.scores.interviews import interview_scores, with_interview_scores

__all__ = [
    "RELIABILITY_ROLES", "REQUIRED_RATING_COLUMNS", "ScoreTables", "check_ratings",
    "clean_ratings", "clip_scores", "coder_composites", "dyad_scores", "dyad_wide_scores",
    "interview_scores", "with_interview_scores",
    "score_study", "score_tables", "study_scores", "wide_scores", "write_parquet", "write_sav",
    "write_scores",
]
