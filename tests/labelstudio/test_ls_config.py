"""Scheme -> labeling config and instructions (pure), checked with the SDK's LabelInterface and
ElementTree; the shipped schemes and generated ones of any size."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from label_studio_sdk.label_interface import LabelInterface

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.config import (
    NO_HOTKEY,
    SCREEN_FACTS,
    render_instructions,
    render_label_config,
)
from coding_pipeline.scheme import load_scheme, parse_scheme
from coding_pipeline.study import schemes_dir

SHIPPED = sorted(schemes_dir().glob("*.yaml"))


def test_both_shipped_schemes_are_there_and_differ_in_shape():
    names = {path.name for path in SHIPPED}
    assert {"sensitivity_involvement_reciprocity.yaml", "global_sensitivity_9point.yaml"} <= names
    nine = load_scheme(schemes_dir() / "global_sensitivity_9point.yaml")
    assert nine.item("global_sensitivity").scale.points == list(range(1, 10))
    assert nine.item("mutuality").scale.points == list(range(1, 8))
    assert {c.id for c in nine.composites} == {"sensitivity", "dyadic_mutuality"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_item_is_a_required_single_radio_row_of_its_scale(path):
    scheme = load_scheme(path)
    xml = render_label_config(scheme)
    interface = LabelInterface(xml)
    assert [o.name for o in interface.objects] == ["video"]
    controls = {c.name: c for c in interface.controls}
    assert set(controls) == {*scheme.item_ids, "notes"}
    tree = ET.fromstring(xml)
    video = tree.find(".//Video")
    assert video.get("value") == "$video" and video.get("frameRate") == "$fps"
    for item in scheme.items:
        assert controls[item.id].tag == "Choices"
        # values unique per item (so each radio is its own keyboard stop); results carry the
        # alias, the scale point itself
        assert controls[item.id].labels == [str(p) for p in item.scale.points]
        element = tree.find(f".//Choices[@name='{item.id}']")
        assert [c.get("value") for c in element] == [f"{item.id}_{p}" for p in item.scale.points]
        assert [c.get("alias") for c in element] == [str(p) for p in item.scale.points]
        assert [c.get("html") for c in element] == [str(p) for p in item.scale.points]
        assert element.get("choice") == "single-radio"
        assert element.get("required") == "true"
        assert element.get("toName") == "video"
        # the anchor texts are shown beside the scale, not only on hover
        headers = {h.get("value") for h in tree.iter("Header")}
        for point, text in item.anchors.items():
            assert f"{point} = {text}" in headers
    assert tree.find(".//TextArea").get("name") == "notes"


def test_items_are_grouped_by_owner_in_order():
    scheme = load_scheme(schemes_dir() / "sensitivity_involvement_reciprocity.yaml")
    xml = render_label_config(scheme)
    positions = {item.id: xml.index(f'name="{item.id}"') for item in scheme.items}
    heads = {owner: xml.index(f'value="{owner}"') for owner in ("Parent", "Child", "Dyad")}
    assert heads["Parent"] < heads["Child"] < heads["Dyad"]
    for item in scheme.items:
        head = heads[item.owner.capitalize()]
        later = [h for h in heads.values() if h > head]
        assert head < positions[item.id] < (min(later) if later else len(xml))


def test_text_with_markup_characters_is_escaped():
    scheme = parse_scheme({
        "name": "odd <text>", "version": "2b", "scale": {"min": 0, "max": 2},
        "items": [{"id": "a", "label": 'Says "no" & <means> it',
                   "anchors": {0: "never & <never>", 2: 'always "yes"'}}],
    })
    xml = render_label_config(scheme)
    tree = ET.fromstring(xml)  # well-formed
    assert tree.find(".//Choices").get("name") == "a"
    headers = [h.get("value") for h in tree.iter("Header")]
    assert 'Says "no" & <means> it' in headers and "0 = never & <never>" in headers
    assert LabelInterface(xml).get_control("a").labels == ["0", "1", "2"]


@pytest.mark.parametrize("reserved", ["notes", "video"])
def test_an_item_named_like_a_reserved_control_is_refused(reserved):
    scheme = parse_scheme({"name": "s", "version": 1,
                           "items": [{"id": reserved, "label": "x"}]})
    with pytest.raises(PipelineError, match=f"'{reserved}' is reserved"):
        render_label_config(scheme)


def _columns(tree: ET.Element) -> tuple[ET.Element, ET.Element]:
    screen = tree.find("./View[@className='cp-screen']")
    return screen.find("./View[@className='cp-clip']"), screen.find("./View[@className='cp-items']")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_clip_is_in_a_sticky_column_beside_all_the_items(path):
    scheme = load_scheme(path)
    tree = ET.fromstring(render_label_config(scheme))
    clip, items = _columns(tree)
    assert [child.tag for child in clip] == ["Video"]
    assert [c.get("name") for c in items.iter("Choices")] == scheme.item_ids
    assert items.find(".//TextArea").get("name") == "notes"
    style = tree.find("./Style").text
    assert ".cp-clip { position: sticky; top: 0;" in style
    assert "max-height: calc(100vh - 300px)" in style  # the picture's box follows the window
    screen_style = tree.find("./View[@className='cp-screen']").get("style")
    assert "display: flex" in screen_style


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_no_scale_point_gets_a_key_label_studio_would_number(path):
    tree = ET.fromstring(render_label_config(load_scheme(path)))
    hotkeys = {choice.get("hotkey") for choice in tree.iter("Choice")}
    assert hotkeys == {NO_HOTKEY}
    assert ord(NO_HOTKEY) > 255  # beyond every keyCode a keyboard event carries
    assert ".lsf-hint { display: none; }" in tree.find("./Style").text


@pytest.mark.parametrize(("n_items", "owners"), [
    (1, [""]), (7, ["dyad", "parent"]), (40, ["parent", "child", "dyad", ""]),
])
def test_any_number_of_items_and_groups_is_laid_out_in_owner_order(n_items, owners):
    scheme = parse_scheme({
        "name": "generated", "version": 1,
        "items": [{"id": f"i{n}", "label": f"Item {n}", "owner": owners[n % len(owners)],
                   "anchors": {1: f"low {n}", 5: f"high {n}"}} for n in range(n_items)],
    })
    xml = render_label_config(scheme)
    interface = LabelInterface(xml)
    assert {c.name for c in interface.controls} == {*scheme.item_ids, "notes"}
    _clip, items = _columns(ET.fromstring(xml))
    groups = items.findall("./View")
    order = ["parent", "child", "dyad", ""]
    used = sorted(set(owners[n % len(owners)] for n in range(n_items)), key=order.index)
    assert [g.get("className") for g in groups] == [
        f"cp-group cp-group-{owner or 'other'}" for owner in used]
    for group, owner in zip(groups, used, strict=True):
        names = [c.get("name") for c in group.iter("Choices")]
        assert names == [item.id for item in scheme.items if item.owner == owner]


def test_instructions_are_the_schemes_text_escaped_in_paragraphs_then_the_screen_facts():
    scheme = parse_scheme({
        "name": "s", "version": 1, "items": [{"id": "a", "label": "A"}],
        "instructions": "Rate <b>only</b> what you see &\nhear.\n\nSecond   paragraph.",
    })
    html = render_instructions(scheme)
    paragraphs = ET.fromstring(f"<div>{html}</div>").findall("p")
    assert "".join(paragraphs[0].itertext()) == "Rate <b>only</b> what you see & hear."
    assert "".join(paragraphs[1].itertext()) == "Second paragraph."
    assert "<b>only</b>" not in html and "&lt;b&gt;only&lt;/b&gt;" in html
    facts = ["".join(p.itertext()) for p in paragraphs[2:]]
    assert [fact.split(":")[0] for fact in facts] == [title for title, _ in SCREEN_FACTS]
    assert any("Video hop size" in fact and "one frame" in fact for fact in facts)
    assert any("draft" in fact and "5 seconds" in fact for fact in facts)


def test_a_scheme_without_instructions_gets_the_default_text():
    scheme = parse_scheme({"name": "s", "version": 1, "items": [{"id": "a", "label": "A"}]})
    assert render_instructions(scheme).startswith("<p style=\"margin: 0 0 10px\">Watch the whole")
