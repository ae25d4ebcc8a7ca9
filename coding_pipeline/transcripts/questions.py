"""Split an interview's turns into the scheme's questions (pure: data in, data out).

Where each question starts is taken from, strongest first:

1. the lab manager's corrections: question id -> first turn number (1-based), or None when the
   question was not asked;
2. question markers in the transcript (`Turn.marker`: "Q3", "[Q3]", "Question 3:", "3."),
   compared with each question's `number`; a marker no question has starts an extra passage;
3. the interviewer's words, for the questions left: each question's cue phrases (its keywords,
   else the words of its label) are looked for in each interviewer turn, and a monotone
   alignment (dynamic programming, as when aligning two sequences with free gaps) picks at most
   one start turn per question, in scheme order, between the starts already fixed by 1. and 2.

A question matched nowhere is missing. An interviewer turn that matches nothing (a probe, or an
extra question without a marker) stays in the passage of the question before it. A question's
passage runs from its first turn to the turn before the next start; turns before the first start
are the preamble. A start found by words is "uncertain" when its match is weak, when the turn
matches another question as well, or when the transcript has markers but none for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from coding_pipeline.errors import PipelineError
from coding_pipeline.transcripts.turns import INTERVIEWER, Turn

FOUND, MISSING, UNCERTAIN = "found", "missing", "uncertain"
_MATCH_FLOOR = 20   # a score (0..100) must exceed this to start a question
_SURE = 50          # a start by words at or above this, matching no other question better, is found
_LABEL_WEIGHT = 40  # label words alone reach at most this: never "found" on their own
_STOP_WORDS = """a an and are as at be by can could did do does for from had has have how i if in
is it its me my of on or that the their them then there they this to was we were what when where
which who why will with would you your"""
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Question:
    """One question of the interview, as the scheme lists it."""

    id: str
    label: str
    number: str = ""                  # the number markers in transcripts use ("3", "4b")
    keywords: tuple[str, ...] = ()    # cue phrases the interviewer's words are matched on
    demand: bool = False


@dataclass(frozen=True)
class Passage:
    question_id: str                  # "" for an extra passage (a marker no question has)
    status: str                       # found | missing | uncertain (extra passages: found)
    how: str = ""                     # corrected | marker | matched ("" when missing)
    first_turn: int | None = None     # 1-based turn numbers, inclusive
    last_turn: int | None = None
    turns: tuple[Turn, ...] = ()
    score: int = 0                    # 0..100: how well the start matched (100 for markers)
    note: str = ""


@dataclass(frozen=True)
class Split:
    passages: tuple[Passage, ...]     # one per scheme question, in scheme order
    extras: tuple[Passage, ...] = ()  # passages under markers no question has
    preamble: tuple[Turn, ...] = ()   # turns before the first start

    def passage(self, question_id: str) -> Passage:
        for passage in self.passages:
            if passage.question_id == question_id:
                return passage
        raise KeyError(question_id)


@dataclass(frozen=True)
class _Start:
    turn: int     # 0-based index
    how: str
    score: int
    note: str = ""
    uncertain: bool = False


def split_questions(turns: Sequence[Turn], questions: Sequence[Question],
                    corrections: Mapping[str, int | None] | None = None,
                    source: str = "transcript") -> Split:
    """Find each question's passage in the turns (see the module docstring)."""
    corrections = dict(corrections or {})
    starts, skipped = _corrected_starts(corrections, questions, len(turns), source)
    extras, marked = _marked_starts(turns, questions, starts, skipped)
    claimed = {start.turn for start in starts.values()} | set(extras)
    for run, low, high in _open_runs(questions, starts, skipped, len(turns)):
        starts.update(_matched_starts(turns, run, questions, low, high, claimed, marked))
    boundaries = sorted({start.turn for start in starts.values()} | set(extras))
    passages = tuple(_passage(q.id, starts.get(q.id), turns, boundaries, q.id in skipped)
                     for q in questions)
    extra_passages = tuple(
        _passage("", _Start(index, "marker", 100, f"marker {number} is no question's number"),
                 turns, boundaries, False)
        for index, number in sorted(extras.items()))
    first = boundaries[0] if boundaries else len(turns)
    return Split(passages=passages, extras=extra_passages, preamble=tuple(turns[:first]))


def parse_corrections(rows: Iterable[Mapping[str, str]], question_ids: Iterable[str],
                      source: str = "corrections") -> dict[str, dict[str, int | None]]:
    """Rows `transcript_id, question, first_turn` -> {transcript_id: {question: turn or None}}.

    `first_turn` is the 1-based turn number where the question starts, or "missing" (or blank)
    when the question was not asked. Row numbers in messages count the header as row 1.
    """
    known = set(question_ids)
    table: dict[str, dict[str, int | None]] = {}
    for row_number, row in enumerate(rows, start=2):
        where = f"{source}, row {row_number}"
        transcript_id = (row.get("transcript_id") or "").strip()
        question = (row.get("question") or "").strip()
        value = (row.get("first_turn") or "").strip()
        if not transcript_id or not question:
            raise PipelineError(f"{where}: transcript_id and question are needed in every row.")
        if question not in known:
            raise PipelineError(f"{where}: '{question}' is not a question of the scheme "
                                f"(known: {', '.join(sorted(known))}).")
        if value.lower() in ("", "missing"):
            turn = None
        elif value.isdigit() and int(value) >= 1:
            turn = int(value)
        else:
            raise PipelineError(f"{where}: first_turn '{value}' must be a turn number (1, 2, "
                                "...) or 'missing'.")
        if question in table.setdefault(transcript_id, {}):
            raise PipelineError(f"{where}: {transcript_id} {question} is corrected twice: "
                                "keep one row.")
        table[transcript_id][question] = turn
    return table


def _corrected_starts(corrections: dict[str, int | None], questions: Sequence[Question],
                      n_turns: int, source: str) -> tuple[dict[str, _Start], set[str]]:
    ids = {q.id for q in questions}
    starts: dict[str, _Start] = {}
    skipped: set[str] = set()
    by_turn: dict[int, str] = {}
    for question_id, turn in corrections.items():
        if question_id not in ids:
            raise PipelineError(f"{source}: the correction names '{question_id}', which is not "
                                "a question of the scheme: fix the corrections file.")
        if turn is None:
            skipped.add(question_id)
            continue
        if not 1 <= turn <= n_turns:
            raise PipelineError(f"{source}: the correction puts '{question_id}' at turn {turn}, "
                                f"but the transcript has turns 1-{n_turns}: fix it.")
        if turn in by_turn:
            raise PipelineError(f"{source}: the corrections start both '{by_turn[turn]}' and "
                                f"'{question_id}' at turn {turn}: give each its own turn.")
        by_turn[turn] = question_id
        starts[question_id] = _Start(turn - 1, "corrected", 100)
    return starts, skipped


def _marked_starts(turns: Sequence[Turn], questions: Sequence[Question],
                   starts: dict[str, _Start], skipped: set[str]
                   ) -> tuple[dict[int, str], bool]:
    """Add starts from markers to `starts`; return extra starts {turn: marker} and markers seen."""
    by_number = {_number(q.number): q.id for q in questions if q.number}
    corrected_turns = {start.turn for start in starts.values()}
    extras: dict[int, str] = {}
    marked = False
    for index, turn in enumerate(turns):
        if not turn.marker or index in corrected_turns:
            continue
        marked = True
        question_id = by_number.get(_number(turn.marker))
        if question_id is None:
            extras[index] = turn.marker
        elif question_id not in starts and question_id not in skipped:
            starts[question_id] = _Start(index, "marker", 100)
    return extras, marked


def _open_runs(questions: Sequence[Question], starts: dict[str, _Start], skipped: set[str],
               n_turns: int) -> list[tuple[list[Question], int, int]]:
    """Runs of questions without a start, each with the turns they must lie between."""
    runs: list[tuple[list[Question], int, int]] = []
    run: list[Question] = []
    low = -1
    for question in list(questions) + [None]:
        if question is not None and question.id in skipped:
            continue
        if question is not None and question.id not in starts:
            run.append(question)
            continue
        high = starts[question.id].turn if question is not None else n_turns
        if run:
            runs.append((run, low, high))
        run = []
        if question is not None:
            low = max(low, high)
    return runs


def _matched_starts(turns: Sequence[Turn], run: list[Question], questions: Sequence[Question],
                    low: int, high: int, claimed: set[int], marked: bool) -> dict[str, _Start]:
    """Align the run's questions with interviewer turns strictly between low and high."""
    candidates = [i for i in range(low + 1, high)
                  if turns[i].speaker == INTERVIEWER and i not in claimed]
    scores = {i: turn_scores(turns[i].text, questions) for i in candidates}
    pairs = align([[scores[i][q.id] for q in run] for i in candidates])
    starts: dict[str, _Start] = {}
    for row, column in pairs:
        index, question = candidates[row], run[column]
        score = scores[index][question.id]
        rivals = [q.id for q in questions
                  if q.id != question.id and scores[index][q.id] >= score]
        notes = []
        if score < _SURE:
            notes.append("weak match on the label's words")
        if rivals:
            notes.append(f"turn {index + 1} matches {', '.join(rivals)} as well")
        if marked:
            notes.append("no marker: matched on the interviewer's words")
        starts[question.id] = _Start(index, "matched", score, "; ".join(notes), bool(notes))
    return starts


def align(scores: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Monotone alignment of candidates (rows) to questions (columns) maximising the sum of
    (score - floor) over matched pairs; pairs scoring at or below the floor are never matched.
    Of equal alignments, each question takes the earliest candidate, and a candidate that
    fits two questions equally goes to the earlier question. Returns (row, column) pairs."""
    n = len(scores)
    m = len(scores[0]) if n else 0
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for r in range(1, n + 1):
        for c in range(1, m + 1):
            value = max(best[r - 1][c], best[r][c - 1])
            if scores[r - 1][c - 1] > _MATCH_FLOOR:
                value = max(value, best[r - 1][c - 1] + scores[r - 1][c - 1] - _MATCH_FLOOR)
            best[r][c] = value
    pairs: list[tuple[int, int]] = []
    r, c = n, m
    while r > 0 and c > 0:
        if best[r][c] == best[r - 1][c]:
            r -= 1
        elif best[r][c] == best[r][c - 1]:
            c -= 1
        else:
            pairs.append((r - 1, c - 1))
            r, c = r - 1, c - 1
    return pairs[::-1]


def turn_scores(text: str, questions: Sequence[Question]) -> dict[str, int]:
    """How well one interviewer turn matches each question, 0..100.

    Each matched cue phrase counts once; two matched cues (or a question's only cue) give 100.
    A cue inside a longer matched cue of another question does not count ("did not click" is
    not also "click"), and leaves its question at 0. A question none of whose cues occur scores
    by the share of its label's words present, at most 40.
    """
    words = stems(text)
    found: list[tuple[int, int, str, tuple[str, ...]]] = []
    for question in questions:
        for cue in _cues(question):
            size = len(cue)
            for start in range(len(words) - size + 1):
                if tuple(words[start:start + size]) == cue:
                    found.append((start, start + size, question.id, cue))
    kept = [hit for hit in found if not any(
        other[2] != hit[2] and other[0] <= hit[0] and hit[1] <= other[1]
        and other[1] - other[0] > hit[1] - hit[0] for other in found)]
    present = set(words)
    result: dict[str, int] = {}
    for question in questions:
        cues = {hit[3] for hit in kept if hit[2] == question.id}
        if cues or any(hit[2] == question.id for hit in found):  # its cues lost to longer ones
            result[question.id] = min(100, 100 * len(cues) // min(2, len(_cues(question))))
            continue
        label = _content(stems(question.label))
        share = len(label & present) / len(label) if label else 0.0
        result[question.id] = int(_LABEL_WEIGHT * share)
    return result


def stems(text: str) -> list[str]:
    """Lower-case word stems: "didn't" -> "did not", "clicked" -> "click", "Mia's" -> "mia"."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"\bcan't\b", "can not", text)
    text = re.sub(r"\bwon't\b", "will not", text)
    text = re.sub(r"n't\b", " not", text)
    text = re.sub(r"\b(he|she|it|that|what|there|who)'s\b", r"\1 is", text)
    text = re.sub(r"'s\b", "", text)
    return [_stem(word) for word in re.findall(r"[a-z]+", text)]


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    for suffix, shortest in (("ing", 6), ("ed", 5)):
        if word.endswith(suffix) and len(word) >= shortest:
            return word[:-len(suffix)]
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


@lru_cache(maxsize=1024)
def _cues(question: Question) -> tuple[tuple[str, ...], ...]:
    if question.keywords:
        return tuple(tuple(stems(cue)) for cue in question.keywords if stems(cue))
    return tuple((word,) for word in sorted(_content(stems(question.label))))


def _content(words: Iterable[str]) -> set[str]:
    return {word for word in words if word not in _STOP}


def _number(marker: str) -> str:
    return str(marker).strip().lower().lstrip("0") or "0"


def _passage(question_id: str, start: _Start | None, turns: Sequence[Turn],
             boundaries: list[int], skipped: bool) -> Passage:
    if start is None:
        note = "corrected: not asked" if skipped else "no turn matches this question"
        return Passage(question_id, MISSING, how="corrected" if skipped else "", note=note)
    after = [b for b in boundaries if b > start.turn]
    end = after[0] if after else len(turns)
    return Passage(question_id, UNCERTAIN if start.uncertain else FOUND, how=start.how,
                   first_turn=start.turn + 1, last_turn=end, turns=tuple(turns[start.turn:end]),
                   score=start.score, note=start.note)
