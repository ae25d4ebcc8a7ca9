"""The generator of PDI-style interviews: its options, and what it writes."""

import pytest

from coding_pipeline.transcripts import synth
from coding_pipeline.transcripts.read import INTERVIEWER, PARENT


def test_interview_skips_adds_and_varies():
    family = synth.family(1)
    full = synth.interview(family)
    assert [line.marker for line in full if line.marker] == [str(n) for n in range(1, 17)]
    assert full[0].role == INTERVIEWER and full[1].role == PARENT
    short = synth.interview(family, skip=("anger", "hopes"), extra_after="typical_day")
    markers = [line.marker for line in short if line.marker]
    assert "10" not in markers and "16" not in markers
    assert markers[:2] == ["1", synth.EXTRA_NUMBER]
    assert family.child in " ".join(line.text for line in full)
    assert "{" not in " ".join(line.text for line in full)
    lengths = {len(synth.interview(family, seed=seed)) for seed in range(6)}
    assert len(lengths) > 1 and max(lengths) <= len(full)
    with pytest.raises(ValueError, match="unknown question ids"):
        synth.interview(family, skip=("nope",))


def test_redact_rows_leave_out_the_relative_and_her_town():
    family = synth.family(2)
    terms = {row["term"] for row in synth.redact_rows(family, "D9")}
    assert {family.child, family.partner, family.clinician, family.town, family.clinic,
            family.program} == terms
    assert family.relative not in terms and family.relative_place not in terms


def test_write_options(tmp_path):
    lines = synth.interview(synth.family(0))
    text = synth.write_transcript(tmp_path / "t.txt", lines, markers="prefix",
                                  labels=("INT", "RESP")).read_text(encoding="utf-8")
    assert text.splitlines()[2].startswith("Q1 INT: To start")
    vtt = synth.write_transcript(tmp_path / "t.vtt", lines).read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ") and "<v Mother>" in vtt
    srt = synth.write_transcript(tmp_path / "t.srt", lines).read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:00,000 --> ") and "\nInterviewer: Thanks" in srt
    with pytest.raises(ValueError, match="markers must be"):
        synth.write_transcript(tmp_path / "t.txt", lines, markers="bold")
    with pytest.raises(ValueError, match="cannot write .rtf"):
        synth.write_transcript(tmp_path / "t.rtf", lines)
    with pytest.raises(UnicodeEncodeError):
        synth.write_transcript(tmp_path / "t.txt", lines, encoding="ascii")
