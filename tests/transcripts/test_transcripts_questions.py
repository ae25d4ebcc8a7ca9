"""Splitting interviews into the scheme's questions: markers, word matching, corrections."""

import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import schemes_dir
from coding_pipeline.transcripts import synth
from coding_pipeline.transcripts.questions import (
    FOUND,
    MISSING,
    UNCERTAIN,
    Question,
    align,
    parse_corrections,
    split_questions,
    turn_scores,
)
from coding_pipeline.transcripts.read import (
    DEFAULT_LABELS,
    INTERVIEWER,
    PARENT,
    Turn,
    read_transcript,
)
from coding_pipeline.transcripts.scheme import load_transcript_scheme

SCHEME = load_transcript_scheme(schemes_dir() / "pdi-rf.yaml")
QUESTIONS = SCHEME.questions
LABELS = {**DEFAULT_LABELS, "Mother": PARENT}


def _turns(lines, markers=True):
    return [Turn(line.role, line.text, number, marker=line.marker if markers else "")
            for number, line in enumerate(lines, start=1)]


def _expected_starts(lines):
    """Question id -> the 1-based turn where synth put it."""
    by_number = {q.number: q.id for q in QUESTIONS}
    return {by_number[line.marker]: number for number, line in enumerate(lines, start=1)
            if line.marker in by_number}


def _starts(split):
    return {p.question_id: p.first_turn for p in split.passages if p.status != MISSING}


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_without_markers_every_question_is_found_at_its_turn(seed):
    lines = synth.interview(synth.family(seed or 0), seed=seed)
    split = split_questions(_turns(lines, markers=False), QUESTIONS)
    assert _starts(split) == _expected_starts(lines)
    assert {p.status for p in split.passages} == {FOUND}
    assert {p.how for p in split.passages} == {"matched"}
    assert [t.text for t in split.preamble] == [line.text for line in lines[:2]]


def test_a_missing_and_an_extra_question_without_markers():
    lines = synth.interview(synth.family(1), skip=("guilt",), extra_after="joy")
    split = split_questions(_turns(lines, markers=False), QUESTIONS)
    guilt = split.passage("guilt")
    assert (guilt.status, guilt.first_turn, guilt.turns) == (MISSING, None, ())
    assert _starts(split) == _expected_starts(lines)
    joy = split.passage("joy")
    assert joy.status == FOUND
    assert "daycare full time" in " ".join(t.text for t in joy.turns)  # the extra stays in joy
    assert split.passage("pain").first_turn == joy.last_turn + 1
    assert not split.extras


def test_a_probe_naming_a_later_topic_does_not_start_that_question():
    lines = synth.interview(synth.family(0))
    turns = _turns(lines, markers=False)
    probe = next(i for i, t in enumerate(turns, 1) if t.text.startswith("Why do you think she"))
    split = split_questions(turns, QUESTIONS)
    assert split.passage("not_clicked").first_turn < probe <= split.passage("not_clicked").last_turn
    assert split.passage("child_upset").first_turn > probe


def test_with_markers_extras_get_their_own_passage():
    lines = synth.interview(synth.family(2), skip=("guilt", "typical_day"), extra_after="joy")
    split = split_questions(_turns(lines), QUESTIONS)
    assert _starts(split) == _expected_starts(lines)
    assert {p.how for p in split.passages if p.status == FOUND} == {"marker"}
    assert split.passage("typical_day").status == MISSING
    (extra,) = split.extras
    assert extra.question_id == "" and "marker 17" in extra.note
    assert [t.text for t in extra.turns][0] == "Is she in daycare full time now?"
    assert split.passage("joy").last_turn == extra.first_turn - 1
    assert split.passage("pain").first_turn == extra.last_turn + 1


def test_a_question_without_its_marker_is_matched_but_uncertain():
    lines = synth.interview(synth.family(0))
    turns = _turns(lines)
    anger = _expected_starts(lines)["anger"]
    turns[anger - 1] = Turn(INTERVIEWER, turns[anger - 1].text, anger)  # marker dropped
    split = split_questions(turns, QUESTIONS)
    passage = split.passage("anger")
    assert (passage.status, passage.how, passage.first_turn) == (UNCERTAIN, "matched", anger)
    assert "no marker" in passage.note
    assert split.passage("guilt").how == "marker"


def test_markers_may_come_in_another_order():
    turns = [Turn(INTERVIEWER, "Now about feeling guilty.", 1, marker="11"),
             Turn(PARENT, "Often.", 2),
             Turn(INTERVIEWER, "And angry?", 3, marker="10"),
             Turn(PARENT, "Mornings.", 4)]
    split = split_questions(turns, QUESTIONS)
    assert (split.passage("guilt").first_turn, split.passage("guilt").last_turn) == (1, 2)
    assert (split.passage("anger").first_turn, split.passage("anger").last_turn) == (3, 4)
    assert split.passage("joy").status == MISSING  # no words search between out-of-order starts


def test_corrections_override_markers_and_matching():
    lines = synth.interview(synth.family(0))
    turns = _turns(lines)
    starts = _expected_starts(lines)
    corrections = {"anger": starts["anger"] + 1, "guilt": None}
    split = split_questions(turns, QUESTIONS, corrections)
    anger, guilt = split.passage("anger"), split.passage("guilt")
    assert (anger.status, anger.how, anger.first_turn) == (FOUND, "corrected", starts["anger"] + 1)
    assert (guilt.status, guilt.how) == (MISSING, "corrected")
    pain = split.passage("pain")
    assert pain.last_turn == starts["anger"]  # the uncorrected turn of anger joins pain
    assert split.passage("needing_child").first_turn == starts["needing_child"]


def test_corrections_without_markers_bound_the_matching():
    lines = synth.interview(synth.family(0))
    starts = _expected_starts(lines)
    split = split_questions(_turns(lines, markers=False), QUESTIONS,
                            {"joy": starts["joy"]})
    assert _starts(split) == starts
    assert split.passage("joy").how == "corrected"


@pytest.mark.parametrize("corrections, message", [
    ({"nope": 3}, r"t\.txt: the correction names 'nope'"),
    ({"anger": 999}, r"puts 'anger' at turn 999, but the transcript has turns 1-"),
    ({"anger": 5, "guilt": 5}, r"start both 'anger' and 'guilt' at turn 5"),
])
def test_bad_corrections_are_refused(corrections, message):
    turns = _turns(synth.interview(synth.family(0)))
    with pytest.raises(PipelineError, match=message):
        split_questions(turns, QUESTIONS, corrections, source="t.txt")


def test_parse_corrections_rows():
    rows = [{"transcript_id": "T1", "question": "anger", "first_turn": "12"},
            {"transcript_id": "T1", "question": "guilt", "first_turn": "missing"},
            {"transcript_id": "T2", "question": "joy", "first_turn": ""}]
    ids = [q.id for q in QUESTIONS]
    assert parse_corrections(rows, ids) == {"T1": {"anger": 12, "guilt": None},
                                            "T2": {"joy": None}}
    for bad, message in [
        ({"transcript_id": "T1", "question": "angr", "first_turn": "3"}, r"row 2: 'angr' is not"),
        ({"transcript_id": "T1", "question": "anger", "first_turn": "0"}, r"row 2: first_turn '0'"),
        ({"transcript_id": "", "question": "anger", "first_turn": "3"}, r"row 2: transcript_id"),
    ]:
        with pytest.raises(PipelineError, match=rf"c\.csv, {message}"):
            parse_corrections([bad], ids, source="c.csv")
    with pytest.raises(PipelineError, match=r"row 3: T1 anger is corrected twice"):
        parse_corrections([rows[0], rows[0]], ids)


def test_align_skips_missing_questions_and_extra_turns_and_prefers_the_earliest():
    scores = [[0, 0, 0],     # small talk
              [100, 0, 0],   # question a
              [50, 0, 0],    # a probe repeating a's word
              [0, 0, 0],     # an extra question
              [0, 0, 100],   # question c (b was not asked)
              [0, 0, 100]]   # c asked again
    assert align(scores) == [(1, 0), (4, 2)]
    assert align([[50], [50]]) == [(0, 0)]
    assert align([[20], [10]]) == []  # at or below the floor: never a start
    assert align([]) == []


def test_turn_scores_prefer_the_longer_cue_and_fall_back_on_label_words():
    scores = turn_scores("And a time when you really didn't click?", QUESTIONS)
    assert scores["not_clicked"] == 100 and scores["clicked"] == 0
    assert turn_scores("Why do you think she got so upset?", QUESTIONS)["child_upset"] == 50
    assert turn_scores("What does she do when she's upset?", QUESTIONS)["child_upset"] == 100
    keyed = [Question("q", "Bedtime routines and sleep", keywords=("nap",))]
    assert turn_scores("Tell me about bedtime routines.", keyed)["q"] == 26  # 2 of 3 label words
    bare = [Question("q", "Bedtime routines and sleep")]  # no keywords: label words are cues
    assert turn_scores("Tell me about sleep.", bare)["q"] == 50
    assert turn_scores("Tell me about bedtime and sleep.", bare)["q"] == 100


def test_a_turn_matching_two_questions_equally_is_uncertain():
    questions = [Question("a", "A", keywords=("angry",)), Question("b", "B", keywords=("angry",))]
    turns = [Turn(INTERVIEWER, "Were you angry?", 1), Turn(PARENT, "Yes.", 2)]
    split = split_questions(turns, questions)
    assert split.passage("a").status == UNCERTAIN
    assert "turn 1 matches b as well" in split.passage("a").note
    assert split.passage("b").status == MISSING


@pytest.mark.parametrize("suffix, markers", [(".docx", None), (".txt", "line"), (".vtt", None),
                                             (".srt", "inline")])
def test_files_of_every_format_split_alike(tmp_path, suffix, markers):
    lines = synth.interview(synth.family(3), skip=("separation",), extra_after="describe_child")
    path = synth.write_transcript(tmp_path / f"t{suffix}", lines, markers=markers)
    split = split_questions(read_transcript(path, LABELS).turns, QUESTIONS)
    assert _starts(split) == _expected_starts(lines)
    assert split.passage("separation").status == MISSING
    assert len(split.extras) == (1 if markers else 0)
