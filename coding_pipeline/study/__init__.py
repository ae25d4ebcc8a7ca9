"""The study folder: settings, the sessions sheet, the clip key, ratings, and safe writes.

A study folder holds everything one study's pipeline reads and writes::

    study.toml          settings (name, scheme, epoch length, Label Studio URL, thresholds)
    scheme.yaml         the coding scheme this study codes with (copied at init)
    sessions.csv        one row per recorded session: dyad_id,timepoint,arm,video,start,end
    interviews.csv      one row per interview transcript: dyad_id,timepoint,arm,transcript,interview
    redact.csv          de-identification rules for transcripts: dyad_id (or *),term,replacement
    transcripts.csv     the transcript key: which transcript id is which interview
    transcripts/        the de-identified passages, <transcript_id>.json
    clips/              the clips coders see, named by opaque random clip ids
    clips.csv           the clip key: which clip is which dyad, timepoint and stretch of video
    batches/            which coder rates which clip: NAME.csv and NAME.json per batch
    exports/            every raw Label Studio export, timestamped, never overwritten
    ratings.csv         one row per clip x coder x item
    reliability/        reliability.json and reliability.csv
    scores/             per-dyad scores by timepoint
    .labelstudio/       the study's private local Label Studio (database, credentials)

Every file is written to a temporary name and renamed into place, so a crash never leaves
a half-written file behind.

One module per job, lowest first: `permissions` (who may read and write), `config`
(study.toml), `spreadsheets` (formulas, encodings, column spellings: no files),
`safe_write` (atomic writes), `folder` (`Study`, `init_study`, `load_study`), `recovery`
(the keys' copies, restore advice), `tables` (`read_table`), `batch_files`
(batches/*.csv), `clip_key` (clips.csv), `sessions` (sessions.csv), `interviews`
(interviews.csv), `transcript_key` (transcripts.csv). Import from
`coding_pipeline.study`: every name below is re-exported here.
"""

from coding_pipeline.study.batch_files import batch_clip_ids, batch_csv_paths, read_batch_csv
from coding_pipeline.study.clip_key import (
    CLIP_ID,
    check_clip_key,
    missing_clip_key,
    read_clips,
    remove_clip_file,
)
from coding_pipeline.study.config import (
    DEFAULT_INTERVIEW_SCHEME,
    DEFAULT_SCHEME,
    DEFAULT_SEED,
    DEFAULT_SPEAKER_LABELS,
    RANDOM_SEED_LIMIT,
    STUDY_TOML_TEMPLATE,
    StudyConfig,
    resolve_scheme,
    schemes_dir,
    seed_or_random,
)
from coding_pipeline.study.folder import SESSIONS_TEMPLATE, Study, init_study, load_study
from coding_pipeline.study.interviews import (
    DEFAULT_INTERVIEW,
    INTERVIEWS_TEMPLATE,
    Interview,
    read_interview_covariates,
    read_interviews,
)
from coding_pipeline.study.permissions import permission_message, private_files, read_bytes
from coding_pipeline.study.recovery import (
    KEY_HISTORY,
    clip_key_history,
    key_history,
    restore_advice,
    write_clip_key,
)
from coding_pipeline.study.safe_write import (
    atomic_path,
    recorded_rows,
    write_bytes_atomic,
    write_csv_atomic,
    write_json_atomic,
    write_text_atomic,
)
from coding_pipeline.study.sessions import (
    Session,
    parse_time,
    read_session_covariates,
    read_sessions,
)
from coding_pipeline.study.spreadsheets import (
    CLIP_COLUMNS,
    FORMULA_START,
    IDENTIFIERS,
    INTERVIEW_COLUMNS,
    RATING_COLUMNS,
    REQUIRED_INTERVIEW_COLUMNS,
    REQUIRED_SESSION_COLUMNS,
    SESSION_COLUMNS,
    TRANSCRIPT_KEY_COLUMNS,
    column_name,
    formula_start,
    neutralise,
    neutralise_table,
    read_spreadsheet_text,
    restore,
    restore_table,
)
from coding_pipeline.study.tables import check_complete, read_table
from coding_pipeline.study.transcript_key import (
    TRANSCRIPT_ID,
    new_transcript_id,
    read_transcript_key,
    write_transcript_key,
)

__all__ = [
    "CLIP_COLUMNS", "CLIP_ID", "DEFAULT_SCHEME", "DEFAULT_SEED", "FORMULA_START", "IDENTIFIERS",
    "KEY_HISTORY", "RANDOM_SEED_LIMIT", "RATING_COLUMNS", "REQUIRED_SESSION_COLUMNS",
    "SESSIONS_TEMPLATE", "SESSION_COLUMNS", "STUDY_TOML_TEMPLATE", "Session", "Study",
    "StudyConfig", "atomic_path", "batch_clip_ids", "batch_csv_paths", "check_clip_key",
    "check_complete", "clip_key_history", "column_name", "formula_start", "init_study",
    "load_study", "missing_clip_key", "neutralise", "neutralise_table", "parse_time",
    "permission_message", "private_files", "read_batch_csv", "read_bytes", "read_clips",
    "read_session_covariates", "read_sessions", "read_spreadsheet_text", "read_table",
    "recorded_rows", "remove_clip_file", "resolve_scheme", "restore", "restore_advice",
    "restore_table", "schemes_dir", "seed_or_random", "write_bytes_atomic", "write_clip_key",
    "write_csv_atomic", "write_json_atomic", "write_text_atomic",
    "DEFAULT_INTERVIEW", "DEFAULT_INTERVIEW_SCHEME", "DEFAULT_SPEAKER_LABELS",
    "INTERVIEWS_TEMPLATE", "INTERVIEW_COLUMNS", "Interview", "REQUIRED_INTERVIEW_COLUMNS",
    "TRANSCRIPT_ID", "TRANSCRIPT_KEY_COLUMNS", "key_history", "new_transcript_id",
    "read_interview_covariates", "read_interviews", "read_transcript_key",
    "write_transcript_key",
]
