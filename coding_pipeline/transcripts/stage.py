"""The `transcripts` stage: interviews.csv -> transcripts.csv (the key) + transcripts/<id>.json.

For each interview: read the transcript into turns (study.toml's [interviews] labels), split
them into the scheme's questions (honouring transcript_corrections.csv), apply redact.csv, and
write the de-identified passages under an opaque random transcript id. The key is written
first (atomically, a copy kept, never shrunk), then the passages; a file whose content has not
changed is not rewritten, so a rerun with nothing new writes nothing. A source transcript that
changed since it was read is reported and left as it was until `--reread DYAD:TIMEPOINT`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import (
    Interview,
    Study,
    new_transcript_id,
    read_interviews,
    read_transcript_key,
    write_text_atomic,
    write_transcript_key,
)
from coding_pipeline.transcripts import inputs
from coding_pipeline.transcripts.passages import document_text, passages_document, statuses
from coding_pipeline.transcripts.questions import split_questions
from coding_pipeline.transcripts.read import read_transcript
from coding_pipeline.transcripts.redact import (
    RedactRule,
    ReviewItem,
    redact_turns,
    remaining_terms,
    rules_for,
)
from coding_pipeline.transcripts.redact import review as review_turns
from coding_pipeline.transcripts.turns import Turn


@dataclass
class InterviewResult:
    """What `transcripts` did with one interview."""

    transcript_id: str
    dyad_id: str
    timepoint: str
    interview: str
    by_status: dict[str, list[str]]     # found / uncertain / missing -> question ids
    extras: int                         # passages under markers no question has
    new: bool = False                   # the interview got its transcript id in this run
    written: bool = False               # its passages file was (re)written
    leaks: list[str] = field(default_factory=list)  # redact terms or identifiers still there
    review: list[ReviewItem] = field(default_factory=list)


@dataclass
class TranscriptsReport:
    results: list[InterviewResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # rows and files not done
    warnings: list[str] = field(default_factory=list)
    key_written: bool = False
    kept: list[str] = field(default_factory=list)       # key rows no longer in interviews.csv


@dataclass
class _Done:
    interview: Interview
    row: dict[str, str]                 # its row of the key
    document: dict[str, Any]
    result: InterviewResult


def transcripts_study(study: Study, review: bool = False,
                      reread: Iterable[str] = ()) -> TranscriptsReport:
    """Read, split and de-identify every interview of interviews.csv (see the module doc).

    `review` adds, per interview, the capitalised words left that may be names or places;
    `reread` lists DYAD:TIMEPOINT whose changed source transcripts are to be read again.
    """
    interviews, problems = read_interviews(study)
    scheme = inputs.interview_scheme(study)
    rules = inputs.redact_rules(study)
    fixes = inputs.corrections(study, scheme)
    key = read_transcript_key(study)
    report = TranscriptsReport(problems=problems)
    again = _reread_keys(reread, interviews)
    if rules is None:
        report.warnings.append(
            f"{study.redact_csv} not found: nothing was de-identified. List the names, places "
            "and the program's name there (dyad_id or *, term, replacement) and rerun.")
    done: list[_Done] = []
    rows = {(r["dyad_id"], r["timepoint"], r["interview"]): r for r in key.to_dict("records")}
    taken = set(key["transcript_id"])
    for interview in interviews:
        try:
            item = _one_interview(study, interview, rows.get(interview.key), again, taken,
                                  scheme, rules or [], fixes)
        except PipelineError as exc:
            report.problems.append(f"{interview.where}: {exc}")
            continue
        if item is not None:
            taken.add(item.row["transcript_id"])
            rows[interview.key] = item.row
            done.append(item)
    listed = {interview.key for interview in interviews}
    report.kept = [row["transcript_id"] for k, row in rows.items() if k not in listed]
    known = set(rows[k]["transcript_id"] for k in rows)
    report.warnings += [f"{study.transcript_corrections_csv}: {tid} is no transcript of the key; "
                        "its rows are ignored." for tid in sorted(set(fixes) - known)]
    table = pd.DataFrame(list(rows.values()), columns=key.columns, dtype=str).fillna("")
    report.key_written = write_transcript_key(study, table, key)
    for item in done:
        item.result.written = _write_document(study, item.document)
        if review:
            item.result.review = review_words(item.document)
        report.results.append(item.result)
    return report


def _one_interview(study: Study, interview: Interview, row: dict[str, str] | None,
                   again: set[tuple[str, str]], taken: set[str], scheme, rules: list[RedactRule],
                   fixes: dict[str, dict[str, int | None]]) -> _Done | None:
    """Read, split and redact one interview; None when its source changed and is not reread."""
    digest = hashlib.sha256(interview.transcript.read_bytes()).hexdigest()
    if row is not None and row["sha256"] != digest and \
            (interview.dyad_id, interview.timepoint) not in again:
        raise PipelineError(
            f"{interview.transcript} changed since it was read on {row['read_at']} (transcript "
            f"{row['transcript_id']}); its passages were left as they were. If the new file is "
            "the right one, read it again with `--reread "
            f"{interview.dyad_id}:{interview.timepoint}` (the corrections of "
            f"{row['transcript_id']} are kept: check them); else put the old file back.")
    new = row is None
    if new or row["sha256"] != digest:
        row = {"transcript_id": row["transcript_id"] if row else new_transcript_id(taken),
               "sha256": digest, "read_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    row = {**row, "dyad_id": interview.dyad_id, "timepoint": interview.timepoint,
           "arm": interview.arm, "interview": interview.interview, "source": interview.source}
    transcript_id = row["transcript_id"]
    transcript = read_transcript(interview.transcript, study.config.speaker_labels)
    split = split_questions(transcript.turns, scheme.questions, fixes.get(transcript_id),
                            source=f"{study.transcript_corrections_csv} for {transcript_id}")
    own_rules = rules_for(rules, interview.dyad_id)
    turns = redact_turns(transcript.turns, own_rules)
    document = passages_document(transcript_id, turns, split, scheme)
    identifiers = [interview.dyad_id] if len(interview.dyad_id) >= 2 else []
    result = InterviewResult(
        transcript_id, interview.dyad_id, interview.timepoint, interview.interview,
        statuses(document), len(split.extras), new=new,
        leaks=remaining_terms(document_text(document), own_rules, identifiers))
    return _Done(interview, row, document, result)


def _reread_keys(reread: Iterable[str], interviews: list[Interview]) -> set[tuple[str, str]]:
    """--reread DYAD:TIMEPOINT values, each naming an interview of interviews.csv."""
    listed = {(i.dyad_id, i.timepoint) for i in interviews}
    keys: set[tuple[str, str]] = set()
    for value in reread:
        dyad, _, timepoint = value.partition(":")
        if (dyad.strip(), timepoint.strip()) not in listed:
            raise PipelineError(
                f"--reread {value}: no interview of interviews.csv has that dyad and "
                "timepoint; write it as DYAD:TIMEPOINT, for example D001:baseline.")
        keys.add((dyad.strip(), timepoint.strip()))
    return keys


def _write_document(study: Study, document: dict[str, Any]) -> bool:
    """Write transcripts/<id>.json unless it already holds exactly this; True when written."""
    path = study.transcripts_dir / f"{document['transcript_id']}.json"
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    write_text_atomic(path, text)
    return True


def review_words(document: dict[str, Any]) -> list[ReviewItem]:
    """The capitalised words left in a passages document that may be names or places (each
    item's `turn` and `line` are turn numbers of the document)."""
    turns = [Turn(t["speaker"], t["text"], t["turn"]) for t in document["turns"]]
    return review_turns(turns)
