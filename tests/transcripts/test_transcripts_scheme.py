"""The transcript scheme: pdi-rf.yaml loads both ways; each kind of mistake is named."""

import copy

import pytest
import yaml

from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import load_scheme
from coding_pipeline.study import schemes_dir
from coding_pipeline.transcripts import synth
from coding_pipeline.transcripts.scheme import load_transcript_scheme, parse_transcript_scheme

PDI = schemes_dir() / "pdi-rf.yaml"
DATA = yaml.safe_load(PDI.read_text(encoding="utf-8"))


def test_pdi_rf_loads_as_a_plain_scheme_and_as_a_transcript_scheme():
    plain = load_scheme(PDI)
    full = load_transcript_scheme(PDI)
    assert (plain.scale.min, plain.scale.max) == (-1, 9)
    assert plain.item_ids == full.scheme.item_ids
    assert full.whole_interview_items == ("overall",)
    assert full.question_items == [q.id for q in full.demand_questions]
    assert full.not_codable == "not codable" and full.interview == "PDI"
    assert set(full.scheme.item("anger").anchors) == {-1, 1, 3, 5, 7, 9}
    assert not plain.item("anger").anchors  # scheme.py does not know shared anchors
    demand = {q.id for q in full.demand_questions}
    mean = next(c for c in full.scheme.composites if c.id == "rf_demand_mean")
    assert set(mean.items) == demand
    child = next(c for c in full.scheme.composites if c.id == "rf_child_focused")
    own = next(c for c in full.scheme.composites if c.id == "rf_self_focused")
    assert set(child.items) | set(own.items) == demand and not set(child.items) & set(own.items)


def test_the_generator_follows_the_schemes_questions_and_numbers():
    scheme = load_transcript_scheme(PDI)
    assert tuple(q.id for q in scheme.questions) == synth.QUESTION_IDS
    assert [q.number for q in scheme.questions] == [str(n) for n in range(1, 17)]
    assert synth.EXTRA_NUMBER not in {q.number for q in scheme.questions}


def _broken(change):
    data = copy.deepcopy(DATA)
    change(data)
    return data


def _unrate(data, item_id):
    data["items"] = [item for item in data["items"] if item["id"] != item_id]
    for composite in data["composites"]:
        composite["items"] = [i for i in composite["items"] if i != item_id]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("kind"), r"'kind: transcript' is missing"),
    (lambda d: d.pop("questions"), r"'questions' must list"),
    (lambda d: d["questions"].append(dict(d["questions"][0])), r"question 'typical_day': dup"),
    (lambda d: d["questions"][1].update(number=1), r"question 'describe_child': number 1 is "),
    (lambda d: d["questions"][1].update(number="Q2"), r"number 'q2' must be what markers say"),
    (lambda d: d["questions"][3].update(demand="yes"), r"'clicked': 'demand' should be true"),
    (lambda d: d["questions"][3].update(keywords="click"), r"'keywords' should list phrases"),
    (lambda d: d["items"].append({"id": "overal", "label": "x"}),
     r"item 'overal' is no question's id.*whole_interview: true"),
    (lambda d: d["items"][0].update(whole_interview=True),
     r"item 'clicked' has a question's id but says whole_interview"),
    (lambda d: _unrate(d, "clicked"), r"demand question\(s\) clicked have no item"),
    (lambda d: d["anchors"].update({10: "x"}), r"anchor 10 is outside the scale -1\.\.9"),
    (lambda d: d["anchors"].update({2: " "}), r"anchor 2 has no text"),
    (lambda d: d.update(not_codable="0"), r"'not_codable' \(0\) must not look like a scale"),
])
def test_mistakes_are_named(change, message):
    with pytest.raises(PipelineError, match=message):
        parse_transcript_scheme(_broken(change), source="s.yaml")


def test_an_items_own_anchors_are_kept():
    data = _broken(lambda d: d["items"][0].update(anchors={5: "own words"}))
    scheme = parse_transcript_scheme(data).scheme
    assert scheme.item("clicked").anchors == {5: "own words"}
    assert scheme.item("not_clicked").anchors[5].startswith("Ordinary")
