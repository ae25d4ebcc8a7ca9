"""De-identification: redact.csv rules, the review of what is left, the check before push."""

import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.transcripts import synth
from coding_pipeline.transcripts.read import DEFAULT_LABELS, PARENT, Turn, read_transcript
from coding_pipeline.transcripts.redact import (
    DEFAULT_REPLACEMENT,
    RedactRule,
    parse_redact_rows,
    redact,
    redact_turns,
    remaining_terms,
    review,
    rules_for,
)

LABELS = {**DEFAULT_LABELS, "Mother": PARENT}


def _rules(*triples):
    return [RedactRule(dyad, term, replacement) for dyad, term, replacement in triples]


def test_terms_match_case_insensitively_on_word_boundaries_with_possessives():
    rules = _rules(("D1", "Mia", "[CHILD]"), ("*", "Bright Start", "[PROGRAM]"),
                   ("*", "Bright", "[X]"), ("*", "O'Neil", "[CLINICIAN]"))
    text = ("MIA's shoes, mia’s coat and Mia. Miami and Amia stay. Bright  Start\nhelped; "
            "so did Bright. Dr. O’Neil's room.")
    assert redact(text, rules) == (
        "[CHILD]'s shoes, [CHILD]’s coat and [CHILD]. Miami and Amia stay. [PROGRAM]\nhelped; "
        "so did [X]. Dr. [CLINICIAN]'s room.")


def test_a_replacement_is_never_replaced_again():
    rules = _rules(("*", "Child", "[CHILD]"), ("*", "Mia", "Child"))
    assert redact("Mia is a child.", rules) == "Child is a [CHILD]."


def test_parse_rows_validates_and_a_dyads_own_rule_wins():
    rows = [{"dyad_id": "*", "term": " Bright   Start ", "replacement": "[PROGRAM]"},
            {"dyad_id": "D1", "term": "Mia", "replacement": ""},
            {"dyad_id": "D1", "term": "bright start", "replacement": "[GROUP]"}]
    rules = parse_redact_rows(rows)
    assert rules[0] == RedactRule("*", "Bright Start", "[PROGRAM]")
    assert rules[1].replacement == DEFAULT_REPLACEMENT
    assert rules_for(rules, "D1") == rules[1:]
    assert rules_for(rules, "D2") == rules[:1]
    for bad, message in [
        ([{"term": "Mia"}], r"r\.csv: column\(s\) dyad_id missing"),
        ([{"dyad_id": "", "term": "Mia"}], r"r\.csv, row 2: dyad_id is empty"),
        ([{"dyad_id": "D1", "term": "M"}], r"r\.csv, row 2: term 'M' is too short"),
        ([rows[1], {"dyad_id": "D1", "term": "MIA", "replacement": "[KID]"}],
         r"r\.csv, row 3: 'MIA' for D1 is already replaced by '\[REDACTED\]' in row 2"),
    ]:
        with pytest.raises(PipelineError, match=message):
            parse_redact_rows(bad, source="r.csv")


def test_remaining_terms_names_what_is_left_and_ignores_replacements():
    rules = _rules(("*", "Program", "[PROGRAM]"), ("D1", "Mia", "[CHILD]"))
    assert remaining_terms("At [PROGRAM] with [CHILD].", rules, ["D1"]) == []
    assert remaining_terms("At the program, mia's D1 file; Mia again.", rules, ["D1", "D2"]) == [
        "Program", "Mia", "D1"]
    assert remaining_terms("Nothing here", ["Mia", "Mia"]) == []
    assert remaining_terms("Miami", ["Mia"]) == []


def test_review_lists_names_and_places_left_with_counts_and_examples():
    turns = [
        Turn(PARENT, "Sunday we saw Rosa and [CHILD] at Port Alden. I told Mom.", 3),
        Turn(PARENT, "Rosa's dog. Proud, I think. Sometimes she is proud. [Rosa laughs]", 5),
        Turn(PARENT, "Zed came. Zed is new.", 9),
    ]
    items = {item.word: item for item in review(turns)}
    assert set(items) == {"Rosa", "Port Alden", "Zed"}  # Proud is said in lower case too
    assert (items["Rosa"].count, items["Rosa"].turn, items["Rosa"].line) == (3, 1, 3)
    assert "saw Rosa and [CHILD]" in items["Rosa"].example
    assert items["Zed"].sentence_start_only and not items["Rosa"].sentence_start_only
    assert [item.word for item in review(turns)][-1] == "Zed"  # sentence starts come last


@pytest.mark.parametrize("suffix, encoding", [(".docx", "utf-8"), (".txt", "latin-1"),
                                              (".vtt", "utf-16"), (".srt", "utf-8-sig")])
def test_generated_transcripts_are_clean_after_redaction_but_for_unlisted_names(
        tmp_path, suffix, encoding):
    family = synth.family(0)
    lines = synth.interview(family, extra_after="joy")
    path = synth.write_transcript(tmp_path / f"t{suffix}", lines, encoding=encoding)
    turns = read_transcript(path, LABELS).turns
    rules = rules_for(parse_redact_rows(synth.redact_rows(family, "D012")), "D012")
    text = "\n".join(t.text for t in turns)
    listed = [row["term"] for row in synth.redact_rows(family, "D012")]
    assert remaining_terms(text, rules, ["D012"]) == listed
    clean = redact_turns(turns, rules)
    assert remaining_terms("\n".join(t.text for t in clean), rules, ["D012"]) == []
    found = review(clean)
    likely = [item.word for item in found if not item.sentence_start_only]
    assert likely == ["Little Acorns", "Port Alden", "Rosa"]
    assert not {"Zoë", "Marcus", "Riverside", "I", "Mom", "Sunday"} & {i.word for i in found}
