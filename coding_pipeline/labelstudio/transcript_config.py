"""A transcript scheme rendered for Label Studio (pure: text in, text out): the labeling config
of interview projects, the coders' instructions, and one interview's task.

Mechanism: `<HyperText inline="true">` showing HTML the pipeline writes from the de-identified
passages (every word HTML-escaped): numbered speaker turns, and above each question's passage a
heading with its number and label, demand questions marked. Chosen over `<Paragraphs
layout="dialogue">` because Paragraphs can only list {author, text} rows: no headings between
passages, no turn numbers for the rating panel to point at, and each passage label would have to
pose as a speaker. Rendered inline (not in an iframe), the transcript is part of the labeling
page: it scrolls with it, and the page's CSS lays it out.

Layout: two columns. On the left the transcript; on the right a sticky panel (it stays at the
top of the labeling area while the transcript scrolls, and scrolls on its own when taller than
the window) with one row per rated item in interview order (demand questions, then the whole
interview's items such as `overall`), each a required single-radio row of the scale points and
the scheme's "not codable" choice, with a line from the task data saying where the question's
passage is (task data `where_<item id>`), then the notes box and the scale's anchors.

A consensus project (`consensus=True`) has the same rows, and shows at the top of the panel what
the coders disagreed on (task data `shown_summary`) and in each row every coder's independent
rating ("Coder 1 / Coder 2: 2 / 5", task data `shown_<item id>`), as clip consensus projects do
(config.py; coding_pipeline/consensus.py).

Keyboard as on the video side (config.py): radios are form controls (Tab, Space, Ctrl+Enter to
submit); no scale point has a live hotkey (`NO_HOTKEY`), and the hotkey marks are hidden.
"""

from __future__ import annotations

from html import escape
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from coding_pipeline.consensus import SHOWN_PREFIX, SUMMARY_KEY
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.config import (
    _SHOWN_STYLE,
    NO_HOTKEY,
    NOTES_NAME,
    NOTES_PLACEHOLDER,
    _attrs,
)
from coding_pipeline.scheme import Item
from coding_pipeline.transcripts.scheme import TranscriptScheme

TRANSCRIPT_NAME = "transcript"
WHERE_PREFIX = "where_"
NOT_CODABLE_SUFFIX = "_nc"
_CSS = (
    ".cp-panel { position: sticky; top: 0; z-index: 3; background: #fff;"
    " max-height: calc(100vh - 150px); overflow-y: auto; padding-right: 6px; }"
    " .cp-panel .lsf-choice .lsf-hint { display: none; }"
    " .cp-panel .lsf-choices { margin: 2px 0 2px; }"
    " .cp-panel .lsf-choices label { margin-right: 6px; }"
    " .cp-transcript { font-size: 15px; line-height: 1.5; }"
    " .cp-transcript .cp-q { margin: 18px 0 6px; padding: 4px 8px; background: #eef3fb;"
    " border-left: 4px solid #7a93c2; font-size: 15px; }"
    " .cp-transcript .cp-q.cp-demand { background: #fdf1e6; border-left-color: #c2410c; }"
    " .cp-transcript .cp-turn { margin: 4px 0; }"
    " .cp-transcript .cp-n { color: #888; font-size: 12px; display: inline-block; width: 2.6em; }"
    " .cp-transcript .cp-parent { padding-left: 1.2em; }"
)
_SCREEN_STYLE = "display: flex; align-items: flex-start; gap: 24px"
_TEXT_STYLE = "flex: 1 1 58%; min-width: 420px"
_PANEL_STYLE = "flex: 1 1 42%; min-width: 380px"
_ROW_STYLE = "padding: 4px 0 6px; border-bottom: 1px solid #e5e5e5"
_WHERE_STYLE = "font-size: 12px; font-weight: normal; color: #555; margin: 0"
_ANCHOR_STYLE = "font-size: 12px; font-weight: normal; color: #444; margin: 1px 0"
CONSENSUS_INSTRUCTION = (
    "Consensus: the coders' independent ratings are shown in each row as Coder 1 / Coder 2; "
    "rows marked DISAGREE differ by more than the threshold. Read the interview, agree one "
    "rating for every row and note how you decided."
)
SCREEN_FACTS = (
    ("The screen", "the interview is on the left, each question's passage under a heading "
     "(demand questions marked DEMAND, in orange); the ratings stay in view on the right while "
     "you scroll the interview. Each rating says at which turns its passage is."),
    ("Keyboard", "Tab and Shift+Tab move between scale points, Space chooses one, Ctrl+Enter "
     "submits. Number and letter keys rate nothing."),
    ("Not codable", "choose it when a passage gives nothing to rate; it is kept as missing, "
     "never as a score."),
    ("Unfinished work", "your choices are saved as a draft about 5 seconds after each change. "
     "If the tab closes, open the project again and press Label All Tasks: the interview comes "
     "back with your draft."),
)


def rated_items(scheme: TranscriptScheme) -> list[Item]:
    """The items a coder rates, in interview order: the questions', then the whole
    interview's."""
    by_id = {item.id: item for item in scheme.scheme.items}
    order = scheme.question_items + [i for i in scheme.scheme.item_ids
                                     if i not in scheme.question_items]
    return [by_id[item_id] for item_id in order]


def _item_row(item: Item, scheme: TranscriptScheme, numbers: dict[str, str],
              consensus: bool = False) -> list[str]:
    points = "".join(
        f"<Choice {_attrs(value=f'{item.id}_{p}', alias=str(p), html=str(p))} "
        f"{_attrs(hotkey=NO_HOTKEY, **({'hint': item.anchors[p]} if p in item.anchors else {}))}/>"
        for p in item.scale.points)
    not_codable = (f"<Choice {_attrs(value=item.id + NOT_CODABLE_SUFFIX, alias=scheme.not_codable)}"
                   f" {_attrs(html=scheme.not_codable, hotkey=NO_HOTKEY)}/>")
    title = f"Q{numbers[item.id]} {item.label}" if item.id in numbers else item.label
    return [
        f'      <View {_attrs(style=_ROW_STYLE)}>',
        f'        <Header {_attrs(value=title, size="5")}/>',
        f'        <Header {_attrs(value=f"${WHERE_PREFIX}{item.id}", size="6")} '
        f'{_attrs(style=_WHERE_STYLE)}/>',
        *([f'        <Header {_attrs(value=f"${SHOWN_PREFIX}{item.id}", size="6")} '
           f'{_attrs(style=_SHOWN_STYLE)}/>'] if consensus else []),
        f'        <Choices {_attrs(name=item.id, toName=TRANSCRIPT_NAME, choice="single-radio")} '
        f'{_attrs(required="true", showInline="true", requiredMessage=f"Rate {item.label}")}>'
        f"{points}{not_codable}</Choices>",
        "      </View>",
    ]


def render_transcript_config(scheme: TranscriptScheme, consensus: bool = False) -> str:
    """The labeling config XML of interview projects, or of interview consensus projects
    (see the module doc)."""
    items = rated_items(scheme)
    for reserved in (TRANSCRIPT_NAME, NOTES_NAME):
        if reserved in scheme.scheme.item_ids:
            raise PipelineError(f"Scheme {scheme.scheme.name}: item id '{reserved}' is reserved "
                                "in Label Studio; rename the item.")
    numbers = {q.id: q.number for q in scheme.questions}
    name = f"{scheme.scheme.name} (version {scheme.scheme.version})"
    lines = [
        "<View>",
        f"  <Style>{xml_escape(_CSS)}</Style>",
        f'  <View {_attrs(className="cp-screen", style=_SCREEN_STYLE)}>',
        f'    <View {_attrs(className="cp-transcript", style=_TEXT_STYLE)}>',
        f'      <HyperText {_attrs(name=TRANSCRIPT_NAME, value="$transcript", inline="true")}/>',
        "    </View>",
        f'    <View {_attrs(className="cp-panel", style=_PANEL_STYLE)}>',
        f'      <Header {_attrs(value=name, size="4")}/>',
    ]
    if consensus:
        lines += [f'      <Header {_attrs(value=CONSENSUS_INSTRUCTION, size="6")}/>',
                  f'      <Header {_attrs(value=f"${SUMMARY_KEY}", size="5")} '
                  f'{_attrs(style=_SHOWN_STYLE)}/>']
    for item in items:
        lines += _item_row(item, scheme, numbers, consensus)
    anchors = items[0].anchors if items else {}
    lines += [
        f'      <Header {_attrs(value="Notes (optional)", size="5")}/>',
        f'      <TextArea {_attrs(name=NOTES_NAME, toName=TRANSCRIPT_NAME, rows="3")} '
        f'{_attrs(maxSubmissions="1", editable="true")} '
        f'{_attrs(placeholder=NOTES_PLACEHOLDER[consensus])}/>',
        *(f'      <Header {_attrs(value=f"{p} = {text}", size="6", style=_ANCHOR_STYLE)}/>'
          for p, text in anchors.items()),
        "    </View>",
        "  </View>",
        "</View>",
    ]
    return "\n".join(lines) + "\n"


def render_transcript_instructions(scheme: TranscriptScheme) -> str:
    """The interview projects' instructions (HTML): the scheme's text, then the screen facts."""
    paragraphs = [p.strip() for p in (scheme.scheme.instructions or "").split("\n\n")
                  if p.strip()]
    style = ' style="margin: 0 0 10px"'
    body = "".join(f"<p{style}>{escape(' '.join(p.split()))}</p>" for p in paragraphs)
    return body + "".join(f"<p{style}><b>{escape(title)}:</b> {escape(text)}</p>"
                          for title, text in SCREEN_FACTS)


# ---------------------------------------------------------------- one interview's task


def _heading(question: dict[str, Any] | None, note: str = "") -> str:
    if question is None:
        return f'<h4 class="cp-q">Other question (not in the scheme){escape(note)}</h4>'
    demand = question["demand"]
    mark = " &#8212; DEMAND" if demand else ""
    uncertain = " (where it starts is uncertain)" if question["status"] == "uncertain" else ""
    return (f'<h4 class="cp-q{" cp-demand" if demand else ""}">Q{escape(question["number"])} '
            f'{escape(question["label"])}{mark}{uncertain}</h4>')


def transcript_html(document: dict[str, Any]) -> str:
    """The interview as the coder reads it: numbered turns, a heading above each passage."""
    starts: dict[int, str] = {}
    for question in document["questions"]:
        if question["status"] != "missing" and question["first_turn"]:
            starts[int(question["first_turn"])] = _heading(question)
    for extra in document.get("extras", []):
        starts.setdefault(int(extra["first_turn"]), _heading(None))
    parts = ['<div class="cp-dialogue">']
    for turn in document["turns"]:
        number = int(turn["turn"])
        if number in starts:
            parts.append(starts[number])
        speaker = str(turn["speaker"])
        parts.append(
            f'<p class="cp-turn cp-{escape(speaker)}"><span class="cp-n">{number}</span>'
            f'<b>{escape(speaker.capitalize())}:</b> {escape(turn["text"])}</p>')
    parts.append("</div>")
    return "".join(parts)


def _where(question: dict[str, Any] | None) -> str:
    if question is None:
        return "Rate the whole interview."
    if question["status"] == "missing" or not question["first_turn"]:
        return "Not found in this interview: choose not codable unless you find the passage."
    span = f"turns {question['first_turn']}-{question['last_turn']}"
    return span + (" (start uncertain)" if question["status"] == "uncertain" else "")


def transcript_task(document: dict[str, Any], scheme: TranscriptScheme) -> dict[str, str]:
    """One interview's task data: its transcript id, the transcript to read and where each
    rated question's passage is. Nothing names the family, arm, timepoint or file."""
    questions = {q["id"]: q for q in document["questions"]}
    data = {"clip_id": str(document["transcript_id"]), TRANSCRIPT_NAME: transcript_html(document)}
    for item in rated_items(scheme):
        data[f"{WHERE_PREFIX}{item.id}"] = _where(questions.get(item.id))
    return data
