"""What the `transcripts` stage reads besides the transcripts: the study's transcript scheme,
redact.csv and the lab manager's corrections file (transcript_corrections.csv)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import (
    Study,
    column_name,
    read_spreadsheet_text,
    resolve_scheme,
    write_text_atomic,
)
from coding_pipeline.transcripts.questions import parse_corrections
from coding_pipeline.transcripts.redact import RedactRule, parse_redact_rows
from coding_pipeline.transcripts.scheme import TranscriptScheme, load_transcript_scheme

CORRECTIONS_HEADER = "transcript_id,question,first_turn\n"


def interview_scheme_path(study: Study) -> Path:
    """Where study.toml's [interviews] scheme is: a file in the study folder, else shipped."""
    local = study.absolute(study.config.interview_scheme)
    return local if local.is_file() else resolve_scheme(study.config.interview_scheme)


def interview_scheme(study: Study) -> TranscriptScheme:
    """study.toml's [interviews] scheme: a file in the study folder, else a shipped scheme."""
    path = interview_scheme_path(study)
    try:
        return load_transcript_scheme(path)
    except PipelineError as exc:
        raise PipelineError(f"{exc} ([interviews] scheme in {study.toml_path})") from None


def _sheet(path: Path) -> list[dict[str, str]]:
    """A lab manager's small CSV as rows of stripped cells, columns spelt ours."""
    text, delimiter = read_spreadsheet_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    reader.fieldnames = [column_name(c) for c in (reader.fieldnames or [])]
    return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def redact_rules(study: Study) -> list[RedactRule] | None:
    """The rules of redact.csv, or None when the study has none."""
    if not study.redact_csv.is_file():
        return None
    return parse_redact_rows(_sheet(study.redact_csv), source=str(study.redact_csv))


def corrections(study: Study, scheme: TranscriptScheme) -> dict[str, dict[str, int | None]]:
    """transcript_corrections.csv: {transcript_id: {question: first turn, or None: not asked}}.

    The pipeline only ever writes its header, when the file is not there; the lab manager's
    rows are read on every run and never changed.
    """
    path = study.transcript_corrections_csv
    if not path.is_file():
        write_text_atomic(path, CORRECTIONS_HEADER)
        return {}
    if not read_spreadsheet_text(path)[0].strip().splitlines()[1:]:
        return {}
    return parse_corrections(_sheet(path), [q.id for q in scheme.questions], source=str(path))
