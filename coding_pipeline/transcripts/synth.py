"""Short generated PDI-style interviews, for tests and the demo.

The interviewer's questions follow the topics of coding_schemes/pdi-rf.yaml in its order and
numbering, in our own words (not the interview's text). The parent's answers name the child, a
partner, a clinician, a town, a clinic and the treatment program, which redact_rows() lists for
redact.csv, and also a relative and a place it leaves out on purpose, for review() to find.
Interviews can leave questions out and add a question the scheme does not have; they are written
as .docx, .txt (in any encoding Python has), .vtt or .srt, with or without question markers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import docx

from coding_pipeline.transcripts.turns import INTERVIEWER, PARENT

EXTRA_NUMBER = "17"  # the marker of the question the scheme does not have
MARKER_STYLES = ("prefix", "line", "heading", "inline")
_WORDS_PER_CUE = 10


@dataclass(frozen=True)
class Family:
    child: str = "Zoë"
    partner: str = "Marcus"
    clinician: str = "Renata"
    town: str = "Riverside"
    clinic: str = "Hillcrest Clinic"
    program: str = "Bright Start"
    relative: str = "Rosa"            # not in redact_rows(): review() should list it
    relative_place: str = "Port Alden"  # likewise


@dataclass(frozen=True)
class Line:
    role: str          # interviewer | parent
    text: str
    marker: str = ""   # the question number, on the first line of each question


_FAMILIES = (
    Family(),
    Family("Mia", "Devon", "Priya", "Fairview", "Lakeside Clinic", "New Roots", "Nadine",
           "Elm Hollow"),
    Family("Chloé", "Andre", "Tomasz", "Millbrook", "Cedar House", "Bright Start", "Ines",
           "Stony Point"),
    Family("Ava", "Jamal", "Keiko", "Oakdale", "Northgate Clinic", "New Roots", "Odette",
           "Harrow Bay"),
)

# (question id, interviewer's question, then the answer and any probes and their answers)
_SCRIPT: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("typical_day", "To start, can you walk me through a typical day with {child}?", (
        (PARENT, "We get up around seven. I take {child} to daycare in {town}, then I go to my "
                 "group at {program}. Afternoons we are at home or at my mom's."),)),
    ("describe_child", "What three words would you use to describe your child? And an example "
                       "of each?", (
        (PARENT, "Stubborn, funny, sweet. Stubborn because she won't wear shoes she didn't "
                 "pick. Funny, she does voices. Sweet with the baby next door."),)),
    ("describe_relationship", "And three words or adjectives for the relationship between you "
                              "and {child}?", (
        (PARENT, "Close. Up and down. Loving. Up and down because some days I'm tired and she "
                 "knows it."),)),
    ("clicked", "Think of a moment this past week when you and {child} really clicked. Tell me "
                "about it.", (
        (PARENT, "Sunday we baked with her aunt {relative}. She kept looking at me to see if I "
                 "liked the cookies."),
        (INTERVIEWER, "How do you think she felt then?"),
        (PARENT, "Proud, I think. Like she was big, and like I noticed her."))),
    ("not_clicked", "Now a moment this week when you and {child} didn't click.", (
        (PARENT, "Tuesday after my appointment at {clinic}. She screamed the whole way home in "
                 "the car and I yelled back."),
        (INTERVIEWER, "Why do you think she got so upset?"),
        (PARENT, "She was tired. Maybe she was mad I was gone all morning. I didn't think of "
                 "that then."))),
    ("child_upset", "What does {child} do when she is upset, and what do you do then?", (
        (PARENT, "She hides under the table. I used to pull her out, now I sit on the floor "
                 "and wait, like {clinician} showed me."),)),
    ("child_hurt", "Do you think {child} ever feels hurt or rejected by you?", (
        (PARENT, "When I'm on my phone, yes. She says look at me, Mommy, and I don't, and her "
                 "face drops."),)),
    ("joy", "What gives you the most joy about being her mom?", (
        (PARENT, "Bedtime. She tells me her day, all mixed up, and she holds my ear."),)),
    ("pain", "And what is the hardest part, the most painful?", (
        (PARENT, "Knowing what she saw before I got clean. I can't take that back."),)),
    ("anger", "When do you feel angry as a parent?", (
        (PARENT, "Mornings. When we're late for {program} and she won't get dressed. I get "
                 "loud and then I feel bad."),)),
    ("guilt", "When do you feel guilty as a parent?", (
        (PARENT, "About the months she lived with {partner}'s mother. She doesn't remember, "
                 "but I do."),)),
    ("needing_child", "Are there times you really need her, or feel needy with her?", (
        (PARENT, "At night, honestly. I want her to sleep in my bed more than she wants to."),)),
    ("separation", "Have you and {child} been apart, separated for a while? How was that for "
                   "her?", (
        (PARENT, "Six weeks, when I was in treatment. She stayed with {partner}'s mother in "
                 "{relative_place}. When I came back she wouldn't look at me for a day."),
        (INTERVIEWER, "What do you think that day was like for her?"),
        (PARENT, "Like she had to check I was real. Like she was angry and scared at once."))),
    ("changed_by_parenting", "How has becoming a parent changed you as a person?", (
        (PARENT, "I think about tomorrow now. Before {child} I didn't."),)),
    ("own_parents", "Thinking of how your own parents raised you, how does that show up in "
                    "how you parent now?", (
        (PARENT, "My mother hit us when she drank. I never hit {child}. But I yell like her, "
                 "and I hear it."),)),
    ("hopes", "Last one: what do you hope for {child} in the future?", (
        (PARENT, "That she feels she can tell me anything."),
        (INTERVIEWER, "Thank you. That's everything I wanted to ask."))),
)
_PREAMBLE = ((INTERVIEWER, "Thanks for talking with me today. Is it still all right that we "
                           "record this?"),
             (PARENT, "Yes, that's fine."))
_EXTRA = ((INTERVIEWER, "Is she in daycare full time now?"),
          (PARENT, "Three days a week, at Little Acorns in {town}."))
QUESTION_IDS = tuple(entry[0] for entry in _SCRIPT)


def family(seed: int) -> Family:
    """One of a few made-up families (names, places, program), picked by seed."""
    return _FAMILIES[seed % len(_FAMILIES)]


def interview(fam: Family, skip: tuple[str, ...] = (), extra_after: str | None = None,
              seed: int | None = None) -> list[Line]:
    """The interview's lines: preamble, then each question (by pdi-rf number) not skipped.

    `extra_after` adds a question the scheme does not have after that question; `seed`, when
    given, drops some probes at random so interviews differ in length.
    """
    unknown = (set(skip) | ({extra_after} if extra_after else set())) - set(QUESTION_IDS)
    if unknown:
        raise ValueError(f"unknown question ids: {sorted(unknown)}")
    rng = random.Random(seed)
    names = vars(fam)
    lines = [Line(role, text.format(**names)) for role, text in _PREAMBLE]
    for number, (question_id, question, follow) in enumerate(_SCRIPT, start=1):
        if question_id not in skip:
            lines.append(Line(INTERVIEWER, question.format(**names), str(number)))
            kept = follow if seed is None or rng.random() < 0.5 else follow[:1] + follow[3:]
            lines.extend(Line(role, text.format(**names)) for role, text in kept)
        if question_id == extra_after:
            (_, asked), (_, answer) = _EXTRA
            lines.append(Line(INTERVIEWER, asked, EXTRA_NUMBER))
            lines.append(Line(PARENT, answer.format(**names)))
    return lines


def redact_rows(fam: Family, dyad_id: str) -> list[dict[str, str]]:
    """redact.csv rows for the family (leaving out its relative and her town, on purpose)."""
    return [
        {"dyad_id": dyad_id, "term": fam.child, "replacement": "[CHILD]"},
        {"dyad_id": dyad_id, "term": fam.partner, "replacement": "[PARTNER]"},
        {"dyad_id": dyad_id, "term": fam.clinician, "replacement": "[CLINICIAN]"},
        {"dyad_id": dyad_id, "term": fam.town, "replacement": "[PLACE]"},
        {"dyad_id": "*", "term": fam.clinic, "replacement": "[CLINIC]"},
        {"dyad_id": "*", "term": fam.program, "replacement": "[PROGRAM]"},
    ]


def write_transcript(path: Path | str, lines: list[Line], markers: str | None = None,
                     encoding: str = "utf-8", labels: tuple[str, str] = ("I", "P"),
                     header: str = "", timestamps: bool = False) -> Path:
    """Write the lines as .docx, .txt, .vtt or .srt (by the path's suffix).

    markers: None (no markers) or a style: "prefix" ("Q4 I: ..."), "line" ("[Q4]" on its own
    line), "heading" ("Question 4:" on its own line) or "inline" ("I: 4. ..."); .vtt and .srt
    put markers inline. `labels` are the interviewer's and the parent's; `header` is a first
    line before the interview (for example a family id and a date, as services write them).
    Subtitles name the speakers "Interviewer" and "Mother" whatever `labels` say.
    """
    path = Path(path)
    if markers is not None and markers not in MARKER_STYLES:
        raise ValueError(f"markers must be None or one of {MARKER_STYLES}")
    suffix = path.suffix.lower()
    if suffix == ".docx":
        _write_docx(path, lines, markers, labels, header)
    elif suffix in (".txt", ".vtt", ".srt"):
        text = (_text(lines, markers, labels, header, timestamps) if suffix == ".txt"
                else _subtitles(lines, markers, suffix == ".vtt"))
        path.write_bytes(text.encode(encoding))
    else:
        raise ValueError(f"cannot write {suffix} transcripts")
    return path


def _label(line: Line, labels: tuple[str, str]) -> str:
    return labels[0] if line.role == INTERVIEWER else labels[1]


def _marked_lines(lines: list[Line], markers: str | None, labels: tuple[str, str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        label, text, mark = _label(line, labels), line.text, line.marker if markers else ""
        if mark and markers == "line":
            out.append(f"[Q{mark}]")
        elif mark and markers == "heading":
            out.append(f"Question {mark}:")
        prefix = f"Q{mark} " if mark and markers == "prefix" else ""
        inline = f"{mark}. " if mark and markers == "inline" else ""
        out.append(f"{prefix}{label}: {inline}{text}")
    return out


def _text(lines: list[Line], markers: str | None, labels: tuple[str, str], header: str,
          timestamps: bool) -> str:
    out = [header, ""] if header else []
    seconds = 0
    for text in _marked_lines(lines, markers, labels):
        if timestamps and not text.startswith(("[Q", "Question ")):
            out.append(f"[{_clock(seconds)}] {text}")
            seconds += 7 + len(text) // 15
        else:
            out.append(text)
    return "\n".join(out) + "\n"


def _write_docx(path: Path, lines: list[Line], markers: str | None,
                labels: tuple[str, str], header: str) -> None:
    document = docx.Document()
    if header:
        document.add_paragraph(header)
    wrapped = False
    for text in _marked_lines(lines, markers, labels):
        paragraph = document.add_paragraph()
        first, _, rest = text.partition(". ")
        if not wrapped and text.startswith(f"{labels[1]}: ") and rest:
            paragraph.add_run(first + ".").add_break()  # one answer with a soft line break
            paragraph.add_run(rest)
            wrapped = True
        else:
            paragraph.add_run(text)
    document.save(str(path))


def _subtitles(lines: list[Line], markers: str | None, vtt: bool) -> str:
    """Cues of at most ten words, speakers named in full as transcription services do: VTT by
    voice tags, SRT by a label in the first cue of each turn (its later cues carry none)."""
    out = ["WEBVTT", ""] if vtt else []
    start, number = 0, 0
    for line in lines:
        text = f"Q{line.marker}. {line.text}" if markers and line.marker else line.text
        speaker = "Interviewer" if line.role == INTERVIEWER else "Mother"
        words = text.split()
        for first in range(0, len(words), _WORDS_PER_CUE):
            chunk = " ".join(words[first:first + _WORDS_PER_CUE])
            number += 1
            end = start + 1500 + 250 * len(chunk.split())
            if vtt:
                out += [f"{_clock(start / 1000, '.')} --> {_clock(end / 1000, '.')}",
                        f"<v {speaker}>{chunk}", ""]
            else:
                label = f"{speaker}: " if first == 0 else ""
                out += [str(number), f"{_clock(start / 1000, ',')} --> {_clock(end / 1000, ',')}",
                        f"{label}{chunk}", ""]
            start = end + 200
    return "\n".join(out)


def _clock(seconds: float, separator: str | None = None) -> str:
    whole = int(seconds)
    clock = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    if separator is None:
        return clock
    return f"{clock}{separator}{int(round((seconds - whole) * 1000)):03d}"
