"""The de-identified passages of one interview, as written to transcripts/<transcript_id>.json
(pure: data in, data out).

The document holds the redacted turns (speaker role and text only: no label as written, time
stamp or line of the source file) and, per scheme question, where its passage runs and how it
was found. Nothing in it names the family, the arm, the timepoint or the source file::

    {"transcript_id": "t1a2b3c4d5e6", "interview": "PDI", "scheme": {"name":, "version":},
     "turns": [{"turn": 1, "speaker": "interviewer", "text": "..."}, ...],
     "questions": [{"id": "clicked", "label": "...", "number": "4", "demand": true,
                    "status": "found", "how": "marker", "first_turn": 12, "last_turn": 15,
                    "note": ""}, ...],
     "extras": [{"first_turn": 30, "last_turn": 31, "note": "..."}]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coding_pipeline.transcripts.questions import FOUND, MISSING, UNCERTAIN, Split
from coding_pipeline.transcripts.scheme import TranscriptScheme
from coding_pipeline.transcripts.turns import Turn

STATUSES = (FOUND, UNCERTAIN, MISSING)


def passages_document(transcript_id: str, turns: Sequence[Turn], split: Split,
                      scheme: TranscriptScheme) -> dict[str, Any]:
    """The JSON document of one interview: its redacted `turns` and the `split` of them."""
    questions = {q.id: q for q in scheme.questions}
    return {
        "transcript_id": transcript_id,
        "interview": scheme.interview,
        "scheme": {"name": scheme.scheme.name, "version": scheme.scheme.version},
        "turns": [{"turn": number, "speaker": turn.speaker, "text": turn.text}
                  for number, turn in enumerate(turns, start=1)],
        "questions": [
            {"id": p.question_id, "label": questions[p.question_id].label,
             "number": questions[p.question_id].number,
             "demand": questions[p.question_id].demand, "status": p.status, "how": p.how,
             "first_turn": p.first_turn, "last_turn": p.last_turn, "note": p.note}
            for p in split.passages],
        "extras": [{"first_turn": p.first_turn, "last_turn": p.last_turn, "note": p.note}
                   for p in split.extras],
    }


def statuses(document: dict[str, Any]) -> dict[str, list[str]]:
    """The document's question ids by status: found, uncertain, missing."""
    by_status: dict[str, list[str]] = {status: [] for status in STATUSES}
    for question in document["questions"]:
        by_status[question["status"]].append(question["id"])
    return by_status


def document_text(document: dict[str, Any]) -> str:
    """All the words a coder would read, one turn a line (for the last check of leaks)."""
    return "\n".join(turn["text"] for turn in document["turns"])
