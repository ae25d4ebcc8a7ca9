"""A coding scheme rendered as a Label Studio labeling config (pure: text in, text out).

Layout: the clip's video on top (frame rate from the task's `fps`), then the items grouped by
owner (parent, child, dyad, then the rest), each a required single-radio row of its scale points
named by the item id, with the item's description and anchor texts beside it, then a notes box.
The radios are ordinary form controls: a coder can rate from the keyboard (Tab to a scale point,
Space to choose it; Label Studio also gives the first choices number and letter hotkeys) and
submit with Ctrl+Enter.

A consensus project (`consensus=True`) has the same controls, and shows above them a line saying
what the coders disagreed on (task data `shown_summary`) and, under each item's label, every
coder's independent rating ("Coder 1 / Coder 2: 2 / 5", task data `shown_<item id>`, with the
disagreeing items marked); see coding_pipeline/consensus.py.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from coding_pipeline.consensus import SHOWN_PREFIX, SUMMARY_KEY
from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import Item, Scheme

VIDEO_NAME = "video"
NOTES_NAME = "notes"
NOTES_PLACEHOLDER = {False: "Anything the ratings do not capture",
                     True: "How the agreed ratings were reached"}
OWNER_HEADINGS = {"parent": "Parent", "child": "Child", "dyad": "Dyad", "": "Other items"}

_ROW_STYLE = (
    "display: flex; flex-wrap: wrap; gap: 4px 24px; align-items: flex-start; "
    "padding: 6px 0; border-bottom: 1px solid #e5e5e5"
)
_SCALE_STYLE = "flex: 0 0 340px"
_ANCHORS_STYLE = "flex: 1 1 320px"
_DESCRIPTION_STYLE = "font-size: 13px; font-weight: normal; font-style: italic; margin: 8px 0 2px"
_ANCHOR_STYLE = "font-size: 13px; font-weight: normal; color: #444; margin: 2px 0"
_SHOWN_STYLE = ("font-size: 14px; font-weight: 600; color: #7a1f1f; background: #fdf1e6; "
                "padding: 2px 6px; margin: 2px 0 4px")
CONSENSUS_INSTRUCTION = (
    "Consensus: the coders' independent ratings are shown under each item as Coder 1 / Coder 2; "
    "items marked DISAGREE differ by more than the threshold. Watch the clip, agree one rating "
    "for every item and note how you decided."
)


def _attrs(**values: str) -> str:
    return " ".join(f"{name}={quoteattr(str(value))}" for name, value in values.items())


def _hint(item: Item, point: int) -> dict[str, str]:
    return {"hint": item.anchors[point]} if point in item.anchors else {}


def _item_rows(item: Item, consensus: bool = False) -> list[str]:
    choices = "".join(
        f"<Choice {_attrs(value=f'{item.id}_{point}', alias=str(point), html=str(point))} "
        f"{_attrs(**_hint(item, point))}/>"
        for point in item.scale.points
    )
    lines = [
        f'    <View {_attrs(style=_ROW_STYLE)}>',
        f'      <View {_attrs(style=_SCALE_STYLE)}>',
        f'        <Header {_attrs(value=item.label, size="5")}/>',
        *([f'        <Header {_attrs(value=f"${SHOWN_PREFIX}{item.id}", size="6")} '
           f'{_attrs(style=_SHOWN_STYLE)}/>'] if consensus else []),
        f'        <Choices {_attrs(name=item.id, toName=VIDEO_NAME, choice="single-radio")} '
        f'{_attrs(required="true", showInline="true", requiredMessage=f"Rate {item.label}")}>'
        f"{choices}</Choices>",
        "      </View>",
        f'      <View {_attrs(style=_ANCHORS_STYLE)}>',
    ]
    if item.description:
        description = _attrs(value=item.description, size="6", style=_DESCRIPTION_STYLE)
        lines.append(f"        <Header {description}/>")
    for point, text in item.anchors.items():
        anchor = _attrs(value=f"{point} = {text}", size="6", style=_ANCHOR_STYLE)
        lines.append(f"        <Header {anchor}/>")
    lines += ["      </View>", "    </View>"]
    return lines


def render_label_config(scheme: Scheme, consensus: bool = False) -> str:
    """The labeling config XML for `scheme`: one required single-radio Choices per item (and,
    for a consensus project, the coders' ratings shown beside them)."""
    for reserved in (VIDEO_NAME, NOTES_NAME):
        if reserved in scheme.item_ids:
            raise PipelineError(
                f"Scheme {scheme.name}: item id '{reserved}' is reserved for the "
                f"{reserved} box in Label Studio; rename the item."
            )
    lines = [
        "<View>",
        f'  <Header {_attrs(value=f"{scheme.name} (version {scheme.version})", size="4")}/>',
        f'  <Video {_attrs(name=VIDEO_NAME, value="$video", frameRate="$fps")}/>',
    ]
    if consensus:
        lines += [f'  <Header {_attrs(value=CONSENSUS_INSTRUCTION, size="6")}/>',
                  f'  <Header {_attrs(value=f"${SUMMARY_KEY}", size="5")} '
                  f'{_attrs(style=_SHOWN_STYLE)}/>']
    owners = [o for o in OWNER_HEADINGS if any(item.owner == o for item in scheme.items)]
    for owner in owners:
        lines.append(f'  <View {_attrs(style="margin-top: 12px")}>')
        lines.append(f'    <Header {_attrs(value=OWNER_HEADINGS[owner], size="3")}/>')
        for item in scheme.items:
            if item.owner == owner:
                lines.extend(_item_rows(item, consensus))
        lines.append("  </View>")
    lines += [
        f'  <Header {_attrs(value="Notes (optional)", size="5")}/>',
        f'  <TextArea {_attrs(name=NOTES_NAME, toName=VIDEO_NAME, rows="3", maxSubmissions="1")} '
        f'{_attrs(editable="true", placeholder=NOTES_PLACEHOLDER[consensus])}/>',
        "</View>",
    ]
    return "\n".join(lines) + "\n"
