"""Interviews in Label Studio: what push and pull need besides what clips need.

An interview batch (batches' NAME.json `"unit": "interview"`) is pushed like a clip batch (one
project per coder, in the coder's space, recorded in projects.csv), with the transcript scheme's
labeling config (transcript_config.py) and one task per interview: its transcript id as
`clip_id`, the de-identified transcript and where each question's passage is. No file goes to
the server: nothing is uploaded or served.

Before anything is sent, every interview to push is checked for the terms of redact.csv (its
dyad's and everyone's) and the dyad's own id in the words a coder would read
(coding_pipeline.transcripts.redact.remaining_terms): one left refuses the push, naming the
interview (its transcript id) and the term.

A consensus batch of interviews (`consensus create --interviews`) gets the consensus variant of
the labeling config, and each task also holds the coders' earlier ratings as shown
(`consensus.with_consensus_fields`), as clip consensus batches do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from coding_pipeline import batches
from coding_pipeline.consensus import with_consensus_fields
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.transcript_config import (
    render_transcript_config,
    render_transcript_instructions,
    transcript_task,
)
from coding_pipeline.scheme import Scheme
from coding_pipeline.study import Study, read_transcript_key
from coding_pipeline.transcripts.inputs import (
    interview_scheme,
    interview_scheme_path,
    redact_rules,
)
from coding_pipeline.transcripts.passages import document_text
from coding_pipeline.transcripts.redact import remaining_terms, rules_for
from coding_pipeline.transcripts.scheme import TranscriptScheme


@dataclass(frozen=True)
class ProjectKind:
    """What a project is made with: its scheme (and the file it came from), labeling config and
    instructions, and whether its tasks show a clip file the transport must place."""

    scheme: Scheme
    scheme_path: Path
    config: str
    instructions: str
    has_clips: bool = True


def interview_kind(study: Study, consensus: bool = False
                   ) -> tuple[ProjectKind, TranscriptScheme]:
    """The project kind of interview batches (with `consensus`: of interview consensus
    batches), and the study's transcript scheme."""
    scheme = interview_scheme(study)
    kind = ProjectKind(scheme.scheme, interview_scheme_path(study),
                       render_transcript_config(scheme, consensus=consensus),
                       render_transcript_instructions(scheme), has_clips=False)
    return kind, scheme


def read_documents(study: Study, transcript_ids: list[str]) -> dict[str, dict]:
    """transcripts/<id>.json of each interview; a missing or unreadable one stops the push."""
    documents = {}
    for transcript_id in transcript_ids:
        path = study.transcripts_dir / f"{transcript_id}.json"
        try:
            documents[transcript_id] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise PipelineError(
                f"Interview {transcript_id}: {path} is missing or damaged. Nothing was pushed: "
                f"rerun `coding-pipeline transcripts {study.root}`, then push again.") from None
    return documents


def refuse_leaks(study: Study, documents: dict[str, dict]) -> None:
    """Stop the push if any interview still holds a redact.csv term or its dyad's id."""
    dyads = dict(zip(read_transcript_key(study)["transcript_id"],
                     read_transcript_key(study)["dyad_id"], strict=True))
    rules = redact_rules(study) or []
    found = []
    for transcript_id, document in documents.items():
        dyad = dyads.get(transcript_id, "")
        identifiers = [dyad] if len(dyad) >= 2 else []
        left = remaining_terms(document_text(document), rules_for(rules, dyad), identifiers)
        if left:
            found.append(f"interview {transcript_id} still contains "
                         + ", ".join(f"'{term}'" for term in left))
    if found:
        more = f" (and {len(found) - 3} more interviews)" if len(found) > 3 else ""
        raise PipelineError(
            "Push refused: " + "; ".join(found[:3]) + more + f". Nothing was pushed. Add the "
            f"term(s) to {study.redact_csv} (with a replacement), rerun `coding-pipeline "
            f"transcripts {study.root}` and check its --review, then push again.")


def interview_queues(
    study: Study, assignments: pd.DataFrame, plans: list[batches.BatchPlan] | None = None,
) -> tuple[dict[tuple[str, str], list[dict]], ProjectKind | None]:
    """The interview batches' (batch, coder) -> tasks in queue order, after the leak check
    (the tasks of the consensus batches among `plans` with the coders' ratings shown), and
    their project kind (None when there are no interview batches)."""
    if assignments.empty:
        return {}, None
    kind, scheme = interview_kind(study)
    documents = read_documents(study, sorted(set(assignments["clip_id"])))
    refuse_leaks(study, documents)
    tasks = {tid: transcript_task(document, scheme) for tid, document in documents.items()}
    queues = {(batch, coder): [tasks[t] for t in rows.sort_values("order")["clip_id"]]
              for (batch, coder), rows in assignments.groupby(["batch", "coder"], sort=False)}
    return with_consensus_fields(queues, plans or [], scheme.scheme), kind
