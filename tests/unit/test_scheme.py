"""Coding schemes: the shipped ones load, and each kind of mistake is named."""

import pytest
import yaml

from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import load_scheme, parse_scheme
from coding_pipeline.study import schemes_dir

GOOD = {
    "name": "t", "version": 1, "scale": {"min": 1, "max": 5},
    "items": [
        {"id": "a", "label": "A", "owner": "parent", "anchors": {1: "low", 5: "high"}},
        {"id": "b", "label": "B", "reverse": True},
        {"id": "c", "label": "C", "scale": {"min": 1, "max": 9}},
    ],
    "composites": [{"id": "ab", "label": "AB", "items": ["a", "b"]}],
}


@pytest.mark.parametrize("path", sorted(schemes_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_scheme_is_valid(path):
    scheme = load_scheme(path)
    assert scheme.items and scheme.content_hash
    for composite in scheme.composites:
        assert set(composite.items) <= set(scheme.item_ids)


def test_shipped_default_scheme_has_three_composites_over_owners():
    scheme = load_scheme(schemes_dir() / "sensitivity_involvement_reciprocity.yaml")
    assert [c.id for c in scheme.composites] == ["sensitivity", "involvement", "dyadic_reciprocity"]
    assert {i.owner for i in scheme.items} == {"parent", "child", "dyad"}
    assert all(i.scale.points == [1, 2, 3, 4, 5] for i in scheme.items)


def test_parse_keeps_scales_anchors_and_reverse_keying():
    scheme = parse_scheme(GOOD)
    assert scheme.item("a").anchors == {1: "low", 5: "high"}
    assert scheme.item("b").keyed(2) == 4
    assert scheme.item("a").keyed(2) == 2
    assert scheme.item("c").scale.max == 9


def changed(**edits):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    for path, value in edits.items():
        target = data
        *parents, last = path.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(("data", "message"), [
    (changed(composites__0__items=["a", "zz"]), "composite 'ab': unknown item 'zz'"),
    (changed(items__1__id="a"), "item 'a': duplicate id"),
    (changed(items__0__anchors={7: "x"}), "item 'a': anchor 7 is outside the scale 1-5"),
    (changed(items__2__label=""), "item 'c': 'label' is missing"),
    (changed(items__0__owner="mother"), "item 'a': owner 'mother'"),
    (changed(scale={"min": 5, "max": 1}), "min \\(5\\) must be below max"),
    (changed(items__0__id="has space"), "'id' must be letters"),
    (changed(version=None), "'version' is missing"),
    (changed(composites__0__id="2ab"), "composite '2ab': 'id' must be letters, digits and _, "
                                       "starting with a letter"),
    (changed(composites__0__id="b"), "composite 'b': duplicate id \\(an item or composite"),
])
def test_mistakes_are_named(data, message):
    with pytest.raises(PipelineError, match=message):
        parse_scheme(data, source="my.yaml")


def test_load_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [unclosed")
    with pytest.raises(PipelineError, match="bad.yaml: not valid YAML"):
        load_scheme(bad)


def test_content_hash_changes_with_content():
    edited = parse_scheme(changed(items__0__label="X"))
    assert parse_scheme(GOOD).content_hash != edited.content_hash


def test_instructions_are_optional_text_kept_without_outer_blank_lines():
    assert parse_scheme(GOOD).instructions == ""
    assert parse_scheme(changed(instructions=None)).instructions == ""
    text = "\nWatch the whole clip.\n\nThen rate.\n"
    kept = parse_scheme(changed(instructions=text)).instructions
    assert kept == "Watch the whole clip.\n\nThen rate."


@pytest.mark.parametrize("value", [["a list"], {"a": "map"}, 12, True])
def test_instructions_that_are_not_text_are_refused_naming_file_and_field(tmp_path, value):
    path = tmp_path / "scheme.yaml"
    path.write_text(yaml.safe_dump(changed(instructions=value)), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"scheme\.yaml: 'instructions' must be text"):
        load_scheme(path)


@pytest.mark.parametrize("path", sorted(schemes_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_schemes_have_instructions_for_coders(path):
    text = load_scheme(path).instructions
    kind = yaml.safe_load(path.read_text(encoding="utf-8")).get("kind", "video")
    first = {"video": "Watch the whole clip", "transcript": "Read the whole interview"}[kind]
    assert first in text and "notes" in text


def test_schemes_know_their_kind_and_a_transcript_scheme_is_no_video_scheme(tmp_path):
    from click.testing import CliRunner

    from coding_pipeline.cli import cli
    from coding_pipeline.scheme import load_video_scheme

    pdi = schemes_dir() / "pdi-rf.yaml"
    assert load_scheme(pdi).kind == "transcript" and "overall" in load_scheme(pdi).item_ids
    video = schemes_dir() / "sensitivity_involvement_reciprocity.yaml"
    assert load_video_scheme(video).kind == "video"
    with pytest.raises(PipelineError, match=r"pdi-rf.yaml is a transcript scheme .* under "
                                            r"\[interviews\] in study.toml"):
        load_video_scheme(pdi)
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "s"), "--scheme", "pdi-rf"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "is a transcript scheme" in result.output and not (tmp_path / "s").exists()
    data = yaml.safe_load(video.read_text(encoding="utf-8"))
    with pytest.raises(PipelineError, match="kind 'audio' should be one of video, transcript"):
        parse_scheme({**data, "kind": "audio"})


def test_push_refuses_a_video_study_whose_scheme_is_a_transcript_scheme(tmp_path):
    from coding_pipeline.labelstudio.push import push_study
    from coding_pipeline.study import init_study

    study = init_study(tmp_path / "s")
    study.scheme_path.write_bytes((schemes_dir() / "pdi-rf.yaml").read_bytes())
    with pytest.raises(PipelineError, match=r"scheme.yaml is a transcript scheme"):
        push_study(study, url="http://127.0.0.1:9", token="x")
