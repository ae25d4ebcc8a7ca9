"""Read an interview transcript (.docx, .txt, .vtt, .srt) into speaker turns.

Every format comes down to numbered units of text (a .txt line, a Word paragraph or table row,
a subtitle cue), and each line may start with a time stamp, a question marker and a speaker
label::

    [00:01:23] Q3 Interviewer: Can you ...     time stamp, marker, label
    I: 3. Can you ...                          marker at the start of the interviewer's words
    Question 3                                 a marker on its own line marks the next turn
    P: Well, ...
    and then she ...                           no label: continues the previous turn

Subtitles may name the speaker with a WebVTT voice tag (`<v Interviewer>`) instead. Labels are
matched case-insensitively against a mapping label -> role (study.toml's speaker labels); lines
before the first labelled line are the transcript's header, kept apart and never a turn.
Text files are read as UTF-8 (with or without BOM), UTF-16 or UTF-32 (with BOM), else as
Windows-1252 or Latin-1; `Transcript.encoding` says which.
"""

from __future__ import annotations

import codecs
import html
import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docx
import webvtt
from docx.opc.exceptions import PackageNotFoundError
from docx.text.paragraph import Paragraph
from lxml import etree
from webvtt.errors import MalformedCaptionError, MalformedFileError

from coding_pipeline.errors import PipelineError
from coding_pipeline.transcripts.turns import INTERVIEWER, PARENT, Turn

__all__ = [
    "DEFAULT_LABELS", "INTERVIEWER", "PARENT", "Transcript", "Turn", "decode_text",
    "normalise_labels", "read_transcript",
]

DEFAULT_LABELS: dict[str, str] = {
    "I": INTERVIEWER, "Interviewer": INTERVIEWER,
    "P": PARENT, "Parent": PARENT, "Mother": PARENT,
}
FORMATS = {".docx": "docx", ".txt": "txt", ".vtt": "vtt", ".srt": "srt"}
UNITS = {"docx": "paragraph", "txt": "line", "vtt": "cue", "srt": "cue"}
MAX_TRANSCRIPT_BYTES = 20_000_000  # a two-hour verbatim transcript is well under 1 MB
_UNKNOWN_LABEL_LIMIT = 3  # an unknown "Name:" starting this many lines is a label, not speech

_TIME = (r"(?:[\[(]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?[\])]"
         r"|\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,3})?)")
_MARKER = (r"(?:[\[(]\s*(?:question|q)\s*\.?\s*(?P<m1>\d{1,2}[a-z]?)\s*[\])][.:]?"
           r"|(?:question|q)\s*\.?\s*(?P<m2>\d{1,2}[a-z]?)(?!\w)[.:)]?"
           r"|(?P<m3>\d{1,2}[a-z]?)[.)](?=\s|$))")
_LABELLED = re.compile(
    rf"^(?:(?P<time>{_TIME})\s*)?(?:{_MARKER}\s*)?"
    rf"(?P<label>[^\W\d_][\w.'’ -]{{0,30}}?)\s*(?:(?P<time2>{_TIME})\s*)?(?::|\t)\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL)
_MARKER_ONLY = re.compile(rf"^(?:{_TIME}\s*)?{_MARKER}\s*$", re.IGNORECASE)
_MARKER_FIRST = re.compile(rf"^{_MARKER}\s*", re.IGNORECASE)
_LEADING_TIME = re.compile(rf"^{_TIME}\s*")
_VOICE = re.compile(r"^\s*<v(?:\.[\w-]+)*\s+([^>]+?)\s*>")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Transcript:
    path: str
    format: str       # docx | txt | vtt | srt
    encoding: str     # how the text was decoded ("" for .docx)
    unit: str         # what Turn.line counts: line | paragraph | cue
    turns: tuple[Turn, ...]
    header: tuple[tuple[int, str], ...] = ()  # (line, text) before the first labelled line


@dataclass
class _Draft:
    speaker: str
    label: str
    line: int
    marker: str
    time: str
    parts: list[str] = field(default_factory=list)


def read_transcript(path: Path | str, labels: Mapping[str, str] | None = None) -> Transcript:
    """Read one transcript file into turns; errors name the file, the line and what to do."""
    path = Path(path)
    source = str(path)
    table = normalise_labels(DEFAULT_LABELS if labels is None else labels)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PipelineError(
            f"{source}: transcripts are read from .docx, .txt, .vtt or .srt files, not "
            f"'{path.suffix or 'no extension'}': save it as one of those (Word: Save As .docx).")
    data = _read_bytes(path)
    encoding = ""
    if fmt == "docx":
        units = _docx_units(data, source)
    else:
        text, encoding = decode_text(data, source)
        units = _text_units(text) if fmt == "txt" else _subtitle_units(text, fmt, source)
    unit = UNITS[fmt]
    _refuse_unknown_labels(units, table, source, unit)
    turns, header = _build_turns(units, table, source, unit, subtitles=fmt in ("vtt", "srt"))
    return Transcript(path=source, format=fmt, encoding=encoding, unit=unit,
                      turns=tuple(turns), header=tuple(header))


def normalise_labels(labels: Mapping[str, str], source: str = "speaker labels") -> dict[str, str]:
    """Check a label -> role mapping; return it keyed by the case-folded label."""
    table: dict[str, str] = {}
    for label, role in labels.items():
        if not isinstance(label, str) or not label.strip() or ":" in label:
            raise PipelineError(
                f"{source}: speaker label {label!r} must be the text before the colon, "
                "for example \"I\" or \"Interviewer\".")
        if not isinstance(role, str) or not role.strip():
            raise PipelineError(f"{source}: speaker label {label!r} needs a role, "
                                f"for example \"{INTERVIEWER}\" or \"{PARENT}\".")
        table[_fold(label)] = role.strip().lower()
    if INTERVIEWER not in table.values():
        raise PipelineError(f"{source}: no label has the role \"{INTERVIEWER}\": name the "
                            "interviewer's label, for example \"I\" = \"interviewer\".")
    return table


def decode_text(data: bytes, source: str) -> tuple[str, str]:
    """Decode a text file's bytes; return the text and the encoding used."""
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(name), "utf-8 (BOM)" if name == "utf-8-sig" else name
            except UnicodeDecodeError as exc:
                line = data[:exc.start].count(b"\n") + 1
                raise PipelineError(
                    f"{source}: starts with a {name} byte order mark but line {line} is not "
                    f"{name} text: save the file again as UTF-8.") from None
    if b"\x00" in data:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        raise PipelineError(
            f"{source}: line {line} holds NUL bytes: this is UTF-16 without a byte order mark "
            "or not a text file. Save it as UTF-8 text (or Word .docx).")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if any(0x80 <= byte <= 0x9F for byte in data):
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1"), "latin-1"


def _read_bytes(path: Path) -> bytes:
    source = str(path)
    if not path.is_file():
        raise PipelineError(f"{source}: transcript not found: check the path in interviews.csv.")
    size = path.stat().st_size
    if size > MAX_TRANSCRIPT_BYTES:
        raise PipelineError(
            f"{source} is {size:,} bytes; a transcript is at most {MAX_TRANSCRIPT_BYTES:,}: "
            "check that interviews.csv names the transcript, not a recording.")
    try:
        data = path.read_bytes()
    except PermissionError:
        raise PipelineError(f"{source}: permission denied: this user cannot read it.") from None
    if not data.strip():
        raise PipelineError(f"{source} is empty: export the transcript again.")
    return data


def _text_units(text: str) -> list[tuple[int, str, str | None]]:
    return [(number, line, None) for number, line in enumerate(text.splitlines(), start=1)]


def _docx_units(data: bytes, source: str) -> list[tuple[int, str, str | None]]:
    """Paragraphs and table rows in document order; a row's cells joined by tabs."""
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError,
            etree.XMLSyntaxError) as exc:
        raise PipelineError(
            f"{source} is not a Word .docx file ({exc}): an older .doc or another format "
            "renamed? Open it in Word and save it as .docx.") from None
    units: list[tuple[int, str, str | None]] = []
    number = 0
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            number += 1
            units.extend((number, line, None) for line in block.text.split("\n"))
            continue
        for row in block.rows:
            number += 1
            cells, seen = [], set()
            for cell in row.cells:  # a merged cell is listed once per grid column
                if id(cell._tc) not in seen:
                    seen.add(id(cell._tc))
                    cells.append(" ".join(cell.text.split()))
            units.append((number, "\t".join(c for c in cells if c), None))
    return units


def _subtitle_units(text: str, fmt: str, source: str) -> list[tuple[int, str, str | None]]:
    """One unit per line of each cue: (cue number, text without tags, voice or None)."""
    try:
        if fmt == "vtt":
            captions = webvtt.from_string(text)
        else:
            captions = webvtt.WebVTT.from_buffer(io.StringIO(text), format="srt")
    except (MalformedFileError, MalformedCaptionError) as exc:
        first = ("its first line must be WEBVTT" if fmt == "vtt"
                 else "each cue is a number, a 'start --> end' line, then its text")
        raise PipelineError(f"{source} is not a valid {fmt.upper()} file ({exc}): {first}; "
                            "export the transcript from the service again.") from None
    if not len(captions):
        raise PipelineError(f"{source} holds no subtitle cues: export the transcript again.")
    units: list[tuple[int, str, str | None]] = []
    for number, caption in enumerate(captions, start=1):
        for raw in caption.lines:
            voice = _VOICE.match(raw)
            line = html.unescape(_TAG.sub("", raw))
            units.append((number, line, voice.group(1) if voice else None))
    return units


def _build_turns(units: Iterable[tuple[int, str, str | None]], table: dict[str, str],
                 source: str, unit: str, subtitles: bool) -> tuple[list[Turn], list]:
    """Turns from units; a subtitle cue of the speaker who spoke last continues their turn."""
    drafts: list[_Draft] = []
    header: list[tuple[int, str]] = []
    pending_marker = ""
    for number, raw, voice in units:
        text = raw.strip()
        if not text:
            continue
        only = _MARKER_ONLY.match(text)
        if only:
            pending_marker = _marker(only)
            continue
        parsed = _speaker_of(text, voice, table, source, f"{unit} {number}")
        if parsed is None:
            text = _LEADING_TIME.sub("", text)
            if drafts:
                drafts[-1].parts.append(text)
            elif text:
                header.append((number, text))
            continue
        role, label, rest, marker, time = parsed
        marker = marker or pending_marker
        pending_marker = ""
        if subtitles and drafts and drafts[-1].speaker == role and not marker:
            drafts[-1].parts.append(rest)
            continue
        drafts.append(_Draft(role, label, number, marker, time, [rest]))
    turns = _finish(drafts, " " if subtitles else "\n")
    if not turns:
        raise PipelineError(
            f"{source}: no line starts with a known speaker label ({_known(table)}). Add the "
            "transcript's labels to study.toml's speaker labels, for example \"INT\" = "
            f"\"{INTERVIEWER}\" and \"RESP\" = \"{PARENT}\".")
    return turns, header


def _speaker_of(text: str, voice: str | None, table: dict[str, str], source: str, where: str
                ) -> tuple[str, str, str, str, str] | None:
    """(role, label, words, marker, time) of a line that starts a turn, else None."""
    if voice is not None:
        role = table.get(_fold(voice))
        if role is None:
            raise PipelineError(
                f"{source}, {where}: the voice <v {voice}> is not a speaker label "
                f"({_known(table)}): add \"{voice}\" to study.toml's speaker labels.")
        label, rest, marker, time = voice, text, "", ""
    else:
        match = _LABELLED.match(text)
        if match is None or _fold(match["label"]) not in table:
            return None
        role = table[_fold(match["label"])]
        label, rest, marker = match["label"].strip(), match["rest"].strip(), _marker(match)
        time = match["time"] or match["time2"] or ""
    if role == INTERVIEWER and not marker:
        first = _MARKER_FIRST.match(rest)
        if first:
            marker, rest = _marker(first), rest[first.end():]
    return role, label, rest.strip(), marker, time.strip("[]() ")


def _finish(drafts: list[_Draft], joiner: str) -> list[Turn]:
    """Turns with text; the marker of a turn left empty moves to the next one."""
    turns: list[Turn] = []
    carried = ""
    for draft in drafts:
        text = joiner.join(part for part in draft.parts if part).strip()
        if not text:
            carried = carried or draft.marker
            continue
        turns.append(Turn(speaker=draft.speaker, text=text, line=draft.line, label=draft.label,
                          marker=draft.marker or carried, time=draft.time))
        carried = ""
    return turns


def _refuse_unknown_labels(units: Iterable[tuple[int, str, str | None]], table: dict[str, str],
                           source: str, unit: str) -> None:
    """A "Name:" that starts several lines but is not a known label would hide a speaker
    (its words would run on in the turn before)."""
    seen: Counter[str] = Counter()
    first: dict[str, int] = {}
    for number, raw, voice in units:
        match = _LABELLED.match(raw.strip()) if voice is None else None
        if match is None:
            continue
        label = match["label"].strip()
        words = label.split()
        if (_fold(label) in table or len(words) > 3 or not match["rest"].strip()
                or not all(word[0].isupper() or word[0].isdigit() for word in words)):
            continue  # labels look like "Speaker 1", "INT", "Dr. Lee"; "She said:" is speech
        seen[label] += 1
        first.setdefault(label, number)
    for label, count in seen.most_common():
        if count >= _UNKNOWN_LABEL_LIMIT:
            raise PipelineError(
                f"{source}: \"{label}:\" starts {count} lines (first at {unit} {first[label]}) "
                f"but is not a speaker label ({_known(table)}): add it to study.toml's speaker "
                f"labels with its role, for example \"{label}\" = \"{PARENT}\" or \"other\".")


def _marker(match: re.Match) -> str:
    """The question number a marker match holds ("03" -> "3", "4B" -> "4b"), or ""."""
    number = match["m1"] or match["m2"] or match["m3"]
    return (number.lower().lstrip("0") or "0") if number else ""


def _fold(label: str) -> str:
    return " ".join(label.split()).casefold()


def _known(table: dict[str, str]) -> str:
    return "known: " + ", ".join(sorted(table))
