"""Scheme -> labeling config (pure), checked with the SDK's LabelInterface; the shipped schemes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from label_studio_sdk.label_interface import LabelInterface

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.config import render_label_config
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
