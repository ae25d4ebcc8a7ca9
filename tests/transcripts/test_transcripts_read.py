"""Reading transcripts: every format and encoding into the same turns; errors a user can fix."""

import docx
import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.transcripts import synth
from coding_pipeline.transcripts.read import (
    DEFAULT_LABELS,
    INTERVIEWER,
    PARENT,
    decode_text,
    normalise_labels,
    read_transcript,
)

LABELS = {**DEFAULT_LABELS, "Interviewer": INTERVIEWER, "Mother": PARENT}
LINES = synth.interview(synth.family(0), skip=("guilt",), extra_after="joy")


def _flat(text):
    return " ".join(text.split())


def _assert_same_turns(transcript, lines=LINES):
    assert [t.speaker for t in transcript.turns] == [line.role for line in lines]
    assert [_flat(t.text) for t in transcript.turns] == [line.text for line in lines]


@pytest.mark.parametrize("name, encoding, expected", [
    ("t.txt", "utf-8", "utf-8"),
    ("t.txt", "utf-8-sig", "utf-8 (BOM)"),
    ("t.txt", "utf-16", "utf-16"),
    ("t.txt", "latin-1", "latin-1"),
    ("t.vtt", "utf-8", "utf-8"),
    ("t.vtt", "utf-16", "utf-16"),
    ("t.srt", "utf-8-sig", "utf-8 (BOM)"),
    ("t.srt", "latin-1", "latin-1"),
    ("t.docx", "", ""),
])
def test_every_format_and_encoding_gives_the_same_turns(tmp_path, name, encoding, expected):
    path = tmp_path / name
    synth.write_transcript(path, LINES, encoding=encoding or "utf-8")
    transcript = read_transcript(path, LABELS)
    assert transcript.encoding == expected
    assert transcript.format == path.suffix[1:]
    _assert_same_turns(transcript)
    assert "Zoë" in transcript.turns[3].text  # decoded, not mojibake


def test_utf16_without_a_byte_order_mark_is_refused(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(("I: Hello Zoë\n" * 3).encode("utf-16-be"))
    with pytest.raises(PipelineError, match=r"t\.txt: line 1 holds NUL bytes.*UTF-8"):
        read_transcript(path, LABELS)


def test_windows_1252_quotes_are_read_as_cp1252(tmp_path):
    path = tmp_path / "w.txt"
    path.write_bytes("I: How’s Zoë?\nP: She’s fine.\n".encode("cp1252"))
    transcript = read_transcript(path)
    assert transcript.encoding == "cp1252"
    assert [t.text for t in transcript.turns] == ["How’s Zoë?", "She’s fine."]


@pytest.mark.parametrize("data, text, encoding", [
    (b"caf\xe9", "café", "latin-1"),
    (b"caf\xc3\xa9", "café", "utf-8"),
    (b"\xef\xbb\xbfcaf\xc3\xa9", "café", "utf-8 (BOM)"),
    ("café".encode("utf-16"), "café", "utf-16"),
    ("café".encode("utf-32"), "café", "utf-32"),
    (b"\x93quoted\x94 caf\xe9", "“quoted” café", "cp1252"),
    (b"\x81 caf\xe9", "\x81 café", "latin-1"),  # 0x81 is no cp1252 character
])
def test_decode_text_says_which_encoding_it_used(data, text, encoding):
    assert decode_text(data, "f.txt") == (text, encoding)


def test_broken_utf8_after_a_bom_names_the_line():
    with pytest.raises(PipelineError, match=r"f\.txt: .*line 2 is not utf-8-sig"):
        decode_text(b"\xef\xbb\xbfI: ok\nP: caf\xe9\n", "f.txt")


@pytest.mark.parametrize("style", synth.MARKER_STYLES)
@pytest.mark.parametrize("suffix", [".txt", ".docx"])
def test_markers_of_every_style_mark_the_turn_and_leave_the_words(tmp_path, style, suffix):
    path = synth.write_transcript(tmp_path / f"m{suffix}", LINES, markers=style)
    transcript = read_transcript(path, LABELS)
    _assert_same_turns(transcript)
    assert [t.marker for t in transcript.turns] == [line.marker for line in LINES]


@pytest.mark.parametrize("suffix", [".vtt", ".srt"])
def test_subtitle_markers_are_read_from_the_interviewers_words(tmp_path, suffix):
    path = synth.write_transcript(tmp_path / f"m{suffix}", LINES, markers="inline")
    transcript = read_transcript(path, LABELS)
    _assert_same_turns(transcript)
    assert [t.marker for t in transcript.turns] == [line.marker for line in LINES]
    assert transcript.unit == "cue"


def test_header_time_stamps_and_long_labels(tmp_path):
    path = synth.write_transcript(tmp_path / "h.txt", LINES, header="PDI D012 baseline 2025-03-01",
                                  timestamps=True, labels=("Interviewer", "Mother"))
    transcript = read_transcript(path, LABELS)
    assert transcript.header == ((1, "PDI D012 baseline 2025-03-01"),)
    _assert_same_turns(transcript)
    assert transcript.turns[0].time == "00:00:00" and transcript.turns[1].time
    assert transcript.turns[0].line == 3 and transcript.turns[0].label == "Interviewer"


def test_lines_without_a_label_continue_the_turn_and_labels_ignore_case(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("INT: Tell me about her.\n\nRESP: Well, she is\nfunny: very funny.\n"
                    "[00:02:10] and loud.\nint (00:02:15): Why?\nRESP:\n  Because.\n",
                    encoding="utf-8")
    transcript = read_transcript(path, {"Int": INTERVIEWER, "Resp": PARENT})
    assert [(t.speaker, t.text, t.line) for t in transcript.turns] == [
        (INTERVIEWER, "Tell me about her.", 1),
        (PARENT, "Well, she is\nfunny: very funny.\nand loud.", 3),
        (INTERVIEWER, "Why?", 6),
        (PARENT, "Because.", 7),
    ]
    assert transcript.turns[2].time == "00:02:15"


def test_word_paragraphs_and_table_rows_keep_their_order(tmp_path):
    document = docx.Document()
    document.add_paragraph("Transcript of interview 12")
    document.add_paragraph("I: First question about a typical day?")
    table = document.add_table(rows=2, cols=3)
    for row, cells in zip(table.rows, [("00:01:00", "P", "We get up early."),
                                       ("00:01:30", "I", "And then?")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph("P: Then daycare.")
    path = tmp_path / "t.docx"
    document.save(str(path))
    transcript = read_transcript(path)
    assert transcript.header == ((1, "Transcript of interview 12"),)
    assert [(t.speaker, t.text, t.line, t.time) for t in transcript.turns] == [
        (INTERVIEWER, "First question about a typical day?", 2, ""),
        (PARENT, "We get up early.", 3, "00:01:00"),
        (INTERVIEWER, "And then?", 4, "00:01:30"),
        (PARENT, "Then daycare.", 5, ""),
    ]
    assert transcript.unit == "paragraph" and transcript.encoding == ""


def test_vtt_voices_can_change_within_a_cue_and_same_voice_cues_merge(tmp_path):
    path = tmp_path / "v.vtt"
    path.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\n<v Interviewer>How was it?\n"
                    "<v Mother>Good &amp; calm.\n\n00:02.000 --> 00:04.000\n<v Mother>Really.\n\n"
                    "00:04.000 --> 00:05.000\nno voice here\n", encoding="utf-8")
    transcript = read_transcript(path, LABELS)
    assert [(t.speaker, t.text, t.line) for t in transcript.turns] == [
        (INTERVIEWER, "How was it?", 1), (PARENT, "Good & calm. Really. no voice here", 1)]


@pytest.mark.parametrize("name, content, message", [
    ("t.pdf", b"%PDF", r"t\.pdf: transcripts are read from \.docx, \.txt, \.vtt or \.srt"),
    ("t.doc", b"xx", r"not '\.doc'.*Save As \.docx"),
    ("t.txt", b"  \n", r"t\.txt is empty"),
    ("t.docx", b"I: not a zip", r"t\.docx is not a Word \.docx file.*save it as \.docx"),
    ("t.vtt", b"I: no header\n", r"t\.vtt is not a valid VTT file.*WEBVTT"),
    ("t.vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\n<v Speaker 1>Hi\n",
     r"t\.vtt, cue 1: the voice <v Speaker 1> is not a speaker label.*add \"Speaker 1\""),
    ("t.srt", b"WEBVTT\n", r"t\.srt is not a valid SRT file"),
    ("t.txt", b"Hello there.\nHow are you?\n",
     r"t\.txt: no line starts with a known speaker label \(known: i, interviewer"),
    ("t.txt", b"I: Hi.\nP: Hi.\nSpeaker 3: Yes.\nI: Ok.\nSpeaker 3: No.\nSpeaker 3: Maybe.\n",
     r"t\.txt: \"Speaker 3:\" starts 3 lines \(first at line 3\) but is not a speaker label"),
])
def test_bad_input_is_refused_naming_file_place_and_remedy(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PipelineError, match=message):
        read_transcript(path)


def test_missing_file_and_label_mapping_problems(tmp_path):
    with pytest.raises(PipelineError, match=r"nope\.txt: transcript not found"):
        read_transcript(tmp_path / "nope.txt")
    with pytest.raises(PipelineError, match=r"no label has the role \"interviewer\""):
        normalise_labels({"P": PARENT})
    with pytest.raises(PipelineError, match=r"label 'I:' must be the text before the colon"):
        normalise_labels({"I:": INTERVIEWER})
    with pytest.raises(PipelineError, match=r"label 'I' needs a role"):
        normalise_labels({"I": " "})
    assert normalise_labels({" Interviewer ": "Interviewer"}) == {"interviewer": INTERVIEWER}


def test_reported_speech_at_line_starts_is_not_taken_for_an_unknown_label(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("I: What happened?\nP: She said: no.\nShe said: no.\nShe said: no!\n"
                    "She said: no...\n", encoding="utf-8")
    (question, answer) = read_transcript(path).turns
    assert answer.text.count("She said: no") == 4


def test_a_marker_on_an_empty_turn_moves_to_the_next_turn(tmp_path):
    path = tmp_path / "e.txt"
    path.write_text("I: Hi.\nP: Hi.\nI: Q4\nI: A time you clicked?\nP: Sunday.\n",
                    encoding="utf-8")
    turns = read_transcript(path).turns
    assert [(t.text, t.marker) for t in turns] == [
        ("Hi.", ""), ("Hi.", ""), ("A time you clicked?", "4"), ("Sunday.", "")]
