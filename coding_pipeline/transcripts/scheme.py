"""Transcript schemes (`kind: transcript`): an interview's questions on top of a coding scheme.

coding_pipeline.scheme.load_scheme reads such a file as it is (its items, the -1..9 scale and
the composites) and ignores the keys only transcripts need; this module reads those too::

    kind: transcript
    interview: PDI                   # the interview kind interviews.csv names (default PDI)
    not_codable: not codable         # the choice for a passage that cannot be rated
    anchors: {-1: ..., 1: ..., 9: ...}   # scale point -> text, for every item without its own
    questions:                       # every question, in the order it is asked
      - {id: clicked, number: 4, label: ..., demand: true, keywords: [click, ...]}
    items:                           # what coders rate:
      - {id: clicked, label: Clicked}            # a question's passage (same id as the question)
      - {id: overall, label: ..., whole_interview: true}   # the whole interview

Every demand question needs an item; an item that is no question's must say
`whole_interview: true` (so a misspelt id is an error, not a silent whole-interview item).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import Scheme, load_scheme, parse_scheme
from coding_pipeline.transcripts.questions import Question

KIND = "transcript"
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NUMBER = re.compile(r"^\d{1,2}[a-z]?$")


@dataclass(frozen=True)
class TranscriptScheme:
    scheme: Scheme                     # the rated items (anchors filled in) and composites
    questions: tuple[Question, ...]
    interview: str = "PDI"
    not_codable: str = "not codable"
    whole_interview_items: tuple[str, ...] = ()

    @property
    def demand_questions(self) -> list[Question]:
        return [q for q in self.questions if q.demand]

    @property
    def question_items(self) -> list[str]:
        """Ids of the items that rate one question's passage, in interview order."""
        rated = set(self.scheme.item_ids)
        return [q.id for q in self.questions if q.id in rated]


def is_transcript_scheme(data: Any) -> bool:
    return isinstance(data, dict) and data.get("kind") == KIND


def load_transcript_scheme(path: Path | str) -> TranscriptScheme:
    """Read and validate a `kind: transcript` scheme file."""
    path = Path(path)
    load_scheme(path)  # the file checks (size, encoding, YAML, no aliases) and the common part
    data = yaml.safe_load(path.read_bytes().decode("utf-8-sig"))
    return parse_transcript_scheme(data, source=str(path))


def parse_transcript_scheme(data: Any, source: str = "scheme") -> TranscriptScheme:
    """Validate scheme data (as loaded from YAML) into a `TranscriptScheme`."""
    scheme = parse_scheme(data, source=source)

    def fail(problem: str) -> PipelineError:
        return PipelineError(f"{source}: {problem}")

    if not is_transcript_scheme(data):
        raise fail(f"'kind: {KIND}' is missing: this is not a transcript scheme.")
    questions = _parse_questions(data.get("questions"), fail)
    anchors = _parse_anchors(data.get("anchors") or {}, scheme, fail)
    whole = _check_items(data["items"], questions, fail)
    not_codable = data.get("not_codable", "not codable")
    if not isinstance(not_codable, str) or not not_codable.strip():
        raise fail("'not_codable' must be the text of the choice, for example 'not codable'.")
    if not_codable.strip().lstrip("-").isdigit():
        raise fail(f"'not_codable' ({not_codable}) must not look like a scale point.")
    interview = str(data.get("interview") or "PDI").strip()
    items = tuple(item if item.anchors else dataclasses.replace(item, anchors=dict(anchors))
                  for item in scheme.items)
    return TranscriptScheme(
        scheme=dataclasses.replace(scheme, items=items), questions=questions,
        interview=interview, not_codable=not_codable.strip(), whole_interview_items=whole)


def _parse_questions(raw: Any, fail) -> tuple[Question, ...]:
    if not isinstance(raw, list) or not raw:
        raise fail("'questions' must list the interview's questions in the order they are asked.")
    questions: list[Question] = []
    ids: set[str] = set()
    numbers: set[str] = set()
    for index, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise fail(f"question {index} must be a mapping with id and label.")
        qid = entry.get("id")
        where = f"question '{qid}'" if qid else f"question {index}"
        if not isinstance(qid, str) or not _ID.match(qid):
            raise fail(f"{where}: 'id' must be letters, digits and _, starting with a letter.")
        if qid in ids:
            raise fail(f"{where}: duplicate id.")
        ids.add(qid)
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip():
            raise fail(f"{where}: 'label' is missing.")
        number = str(entry.get("number", index)).strip().lower()
        if not _NUMBER.match(number):
            raise fail(f"{where}: number '{number}' must be what markers say, such as 4 or 4b.")
        number = number.lstrip("0") or "0"
        if number in numbers:
            raise fail(f"{where}: number {number} is used twice.")
        numbers.add(number)
        demand = entry.get("demand", False)
        if not isinstance(demand, bool):
            raise fail(f"{where}: 'demand' should be true or false.")
        keywords = entry.get("keywords") or []
        if not isinstance(keywords, list) or not all(
                isinstance(k, str) and k.strip() for k in keywords):
            raise fail(f"{where}: 'keywords' should list phrases, for example [angry, anger].")
        questions.append(Question(id=qid, label=label.strip(), number=number,
                                  keywords=tuple(k.strip() for k in keywords), demand=demand))
    return tuple(questions)


def _parse_anchors(raw: Any, scheme: Scheme, fail) -> dict[int, str]:
    if not isinstance(raw, dict):
        raise fail("'anchors' should map scale points to text.")
    anchors: dict[int, str] = {}
    for point, text in raw.items():
        try:
            value = int(point)
        except (TypeError, ValueError):
            raise fail(f"anchor '{point}' is not a scale point.") from None
        if not scheme.scale.min <= value <= scheme.scale.max:
            raise fail(f"anchor {value} is outside the scale "
                       f"{scheme.scale.min}..{scheme.scale.max}.")
        if not isinstance(text, str) or not text.strip():
            raise fail(f"anchor {value} has no text.")
        anchors[value] = text.strip()
    return dict(sorted(anchors.items()))


def _check_items(raw_items: list, questions: tuple[Question, ...], fail) -> tuple[str, ...]:
    """Each item rates a question (same id) or the whole interview; return the latter's ids."""
    question_ids = {q.id for q in questions}
    whole: list[str] = []
    rated: set[str] = set()
    for raw in raw_items:
        item_id, flag = raw["id"], raw.get("whole_interview", False)
        if not isinstance(flag, bool):
            raise fail(f"item '{item_id}': 'whole_interview' should be true or false.")
        if flag and item_id in question_ids:
            raise fail(f"item '{item_id}' has a question's id but says whole_interview: "
                       "rename it or drop whole_interview.")
        if not flag and item_id not in question_ids:
            raise fail(f"item '{item_id}' is no question's id: use a question's id, or add "
                       "'whole_interview: true' for a rating of the whole interview.")
        if flag:
            whole.append(item_id)
        else:
            rated.add(item_id)
    unrated = [q.id for q in questions if q.demand and q.id not in rated]
    if unrated:
        raise fail(f"demand question(s) {', '.join(unrated)} have no item: add an item with "
                   "the same id (or set demand: false).")
    return tuple(whole)
