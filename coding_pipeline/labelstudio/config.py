"""A coding scheme rendered for Label Studio (pure: text in, text out): the labeling config and
the coders' instructions.

Layout: two columns. On the left the clip's video (frame rate from the task's `fps`) in a
sticky column that stays in view while the coder scrolls; on the right the items grouped by
owner (parent, child, dyad, then the rest), each a required single-radio row of its scale
points named by the item id, with the item's description and anchor texts under it, then a notes
box. The video's height follows the window (CSS in a <Style> tag), so the picture and its
controls fit on screen at 1280x720 and larger.

Keyboard: the radios are ordinary form controls (Tab to a scale point, Space to choose it,
Ctrl+Enter submits). Label Studio would give the first 33 points number and letter hotkeys that
all act on the first items only; every point gets an explicit hotkey no keyboard sends instead
(`NO_HOTKEY`), and the hotkey marks are hidden, so no key rates an item behind the coder's back.

A consensus project (`consensus=True`) has the same controls, and shows above them a line saying
what the coders disagreed on (task data `shown_summary`) and, under each item's label, every
coder's independent rating ("Coder 1 / Coder 2: 2 / 5", task data `shown_<item id>`, with the
disagreeing items marked); see coding_pipeline/consensus.py.
"""

from __future__ import annotations

from html import escape
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from coding_pipeline.consensus import SHOWN_PREFIX, SUMMARY_KEY
from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import Item, Scheme

VIDEO_NAME = "video"
NOTES_NAME = "notes"
NOTES_PLACEHOLDER = {False: "Anything the ratings do not capture",
                     True: "How the agreed ratings were reached"}
OWNER_HEADINGS = {"parent": "Parent", "child": "Child", "dyad": "Dyad", "": "Other items"}
# Label Studio's key library matches a key by its keyCode (0-255); this character's code is 8709,
# so a point with it as hotkey takes no automatic one and no key press selects it.
NO_HOTKEY = "\u2205"

_CSS = (
    # the clip column stays at the top of the scrolling labeling area
    ".cp-clip { position: sticky; top: 0; z-index: 3; background: inherit; }"
    # the picture's box follows the window height (Label Studio sets a fixed inline height)
    " .cp-clip .lsf-video__main { height: auto !important; aspect-ratio: 16 / 10;"
    " min-height: 200px; max-height: calc(100vh - 300px); }"
    # no hotkey marks beside the scale points (no key selects a point)
    " .cp-items .lsf-choice .lsf-hint { display: none; }"
    " .cp-items .lsf-choices { margin: 2px 0 4px; }"
)
_SCREEN_STYLE = "display: flex; align-items: flex-start; gap: 24px"
_CLIP_STYLE = "flex: 1 1 55%; min-width: 540px"
_ITEMS_STYLE = "flex: 1 1 45%; min-width: 340px"
_ROW_STYLE = "padding: 6px 0 8px; border-bottom: 1px solid #e5e5e5"
_DESCRIPTION_STYLE = "font-size: 13px; font-weight: normal; font-style: italic; margin: 2px 0"
_ANCHOR_STYLE = "font-size: 13px; font-weight: normal; color: #444; margin: 2px 0"
_SHOWN_STYLE = ("font-size: 14px; font-weight: 600; color: #7a1f1f; background: #fdf1e6; "
                "padding: 2px 6px; margin: 2px 0 4px")
CONSENSUS_INSTRUCTION = (
    "Consensus: the coders' independent ratings are shown under each item as Coder 1 / Coder 2; "
    "items marked DISAGREE differ by more than the threshold. Watch the clip, agree one rating "
    "for every item and note how you decided."
)

_P = ' style="margin: 0 0 10px"'
DEFAULT_INSTRUCTIONS = (
    "Watch the whole clip with sound, then rate every item on its scale: the anchor texts are "
    "under each scale. Use the notes box for anything the ratings miss, then Submit."
)
# What every coder needs to know about the screen, whatever the scheme's own instructions say.
SCREEN_FACTS = (
    ("The screen", "the clip stays in view on the left while you scroll through the items. "
     "The Instructions button at the top shows this text again."),
    ("Keyboard", "Tab and Shift+Tab move between scale points, Space chooses one, Ctrl+Enter "
     "submits. Ctrl+Alt+Space plays or pauses the clip. Alt+Right and Alt+Left step the clip "
     "after you click the picture (not while a scale point or the notes box has the focus). "
     "Number and letter keys rate nothing. To close this window, Tab to its X and press Space."),
    ("Frame step", "one step (the arrows beside Play, or Alt+Right) moves exactly one frame on "
     "the study's own server. If it moves more (Label Studio's default is 10 frames), click the "
     "settings button at the bottom left, next to Undo, choose Video and set Video hop size "
     "to 1."),
    ("Unfinished work", "your choices are saved as a draft about 5 seconds after each change. "
     "If the tab closes, open the project again and press Label All Tasks: the clip comes back "
     "with your draft. Choices made in the last 5 seconds before the tab closed are lost."),
)


def _attrs(**values: str) -> str:
    return " ".join(f"{name}={quoteattr(str(value))}" for name, value in values.items())


def _hint(item: Item, point: int) -> dict[str, str]:
    return {"hint": item.anchors[point]} if point in item.anchors else {}


def _item_rows(item: Item, consensus: bool = False) -> list[str]:
    choices = "".join(
        f"<Choice {_attrs(value=f'{item.id}_{point}', alias=str(point), html=str(point))} "
        f"{_attrs(hotkey=NO_HOTKEY, **_hint(item, point))}/>"
        for point in item.scale.points
    )
    lines = [
        f'        <View {_attrs(style=_ROW_STYLE)}>',
        f'          <Header {_attrs(value=item.label, size="5")}/>',
        *([f'          <Header {_attrs(value=f"${SHOWN_PREFIX}{item.id}", size="6")} '
           f'{_attrs(style=_SHOWN_STYLE)}/>'] if consensus else []),
        f'          <Choices {_attrs(name=item.id, toName=VIDEO_NAME, choice="single-radio")} '
        f'{_attrs(required="true", showInline="true", requiredMessage=f"Rate {item.label}")}>'
        f"{choices}</Choices>",
    ]
    if item.description:
        description = _attrs(value=item.description, size="6", style=_DESCRIPTION_STYLE)
        lines.append(f"          <Header {description}/>")
    for point, text in item.anchors.items():
        anchor = _attrs(value=f"{point} = {text}", size="6", style=_ANCHOR_STYLE)
        lines.append(f"          <Header {anchor}/>")
    lines.append("        </View>")
    return lines


def render_label_config(scheme: Scheme, consensus: bool = False) -> str:
    """The labeling config XML for `scheme`: one required single-radio Choices per item, beside
    a video that stays in view (and, for a consensus project, the coders' ratings shown)."""
    for reserved in (VIDEO_NAME, NOTES_NAME):
        if reserved in scheme.item_ids:
            raise PipelineError(
                f"Scheme {scheme.name}: item id '{reserved}' is reserved for the "
                f"{reserved} box in Label Studio; rename the item."
            )
    lines = [
        "<View>",
        f"  <Style>{xml_escape(_CSS)}</Style>",
        f'  <View {_attrs(className="cp-screen", style=_SCREEN_STYLE)}>',
        f'    <View {_attrs(className="cp-clip", style=_CLIP_STYLE)}>',
        f'      <Video {_attrs(name=VIDEO_NAME, value="$video", frameRate="$fps")}/>',
        "    </View>",
        f'    <View {_attrs(className="cp-items", style=_ITEMS_STYLE)}>',
        f'      <Header {_attrs(value=f"{scheme.name} (version {scheme.version})", size="4")}/>',
    ]
    if consensus:
        lines += [f'  <Header {_attrs(value=CONSENSUS_INSTRUCTION, size="6")}/>',
                  f'  <Header {_attrs(value=f"${SUMMARY_KEY}", size="5")} '
                  f'{_attrs(style=_SHOWN_STYLE)}/>']
    owners = [o for o in OWNER_HEADINGS if any(item.owner == o for item in scheme.items)]
    for owner in owners:
        group = f"cp-group cp-group-{owner or 'other'}"
        lines.append(f'      <View {_attrs(className=group)}>')
        lines.append(f'        <Header {_attrs(value=OWNER_HEADINGS[owner], size="3")}/>')
        for item in scheme.items:
            if item.owner == owner:
                lines.extend(_item_rows(item, consensus))
        lines.append("      </View>")
    lines += [
        f'      <Header {_attrs(value="Notes (optional)", size="5")}/>',
        f'      <TextArea {_attrs(name=NOTES_NAME, toName=VIDEO_NAME, rows="3")} '
        f'{_attrs(maxSubmissions="1", editable="true")} '
        f'{_attrs(placeholder=NOTES_PLACEHOLDER[consensus])}/>',
        "    </View>",
        "  </View>",
        "</View>",
    ]
    return "\n".join(lines) + "\n"


def render_instructions(scheme: Scheme) -> str:
    """The project's instructions (HTML): the scheme's own text, or a default, then the screen
    facts. Every text is HTML-escaped; blank lines in the scheme's text start new paragraphs."""
    text = scheme.instructions or DEFAULT_INSTRUCTIONS
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    body = "".join(f"<p{_P}>{escape(' '.join(p.split()))}</p>" for p in paragraphs)
    facts = "".join(
        f"<p{_P}><b>{escape(title)}:</b> {escape(text)}</p>" for title, text in SCREEN_FACTS)
    return body + facts
