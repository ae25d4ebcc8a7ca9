"""Interviews for Label Studio: the labeling config, an interview's task, the leak check, and
"not codable" pulled as missing (pure parts, and push's checks before anything is sent)."""

import csv

import pytest
from label_studio_sdk.label_interface import LabelInterface

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.annotations import ratings_from_export
from coding_pipeline.labelstudio.config import NO_HOTKEY
from coding_pipeline.labelstudio.interviews import interview_queues, read_documents
from coding_pipeline.labelstudio.simulate import simulated_ratings
from coding_pipeline.labelstudio.transcript_config import (
    rated_items,
    render_transcript_config,
    transcript_task,
)
from coding_pipeline.study import init_study, read_transcript_key, resolve_scheme
from coding_pipeline.transcripts import synth
from coding_pipeline.transcripts.scheme import load_transcript_scheme
from coding_pipeline.transcripts.stage import transcripts_study

SCHEME = load_transcript_scheme(resolve_scheme("pdi-rf.yaml"))
FAMILIES = {"D01": synth.family(0), "D02": synth.family(1)}


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture()
def study(tmp_path):
    study = init_study(tmp_path / "study")
    (study.root / "raw").mkdir()
    rows, rules = [], []
    for dyad, fam in FAMILIES.items():
        lines = synth.interview(fam, skip=("anger",) if dyad == "D02" else ())
        synth.write_transcript(study.root / "raw" / f"{dyad}.txt", lines, markers="prefix")
        rows.append({"dyad_id": dyad, "timepoint": "baseline", "arm": "MIO",
                     "transcript": f"raw/{dyad}.txt"})
        rules += [r for r in synth.redact_rows(fam, dyad) if r not in rules]
        rules += [{"dyad_id": dyad, "term": fam.relative, "replacement": "[RELATIVE]"},
                  {"dyad_id": dyad, "term": fam.relative_place, "replacement": "[PLACE]"}]
    _write_csv(study.interviews_csv, rows)
    _write_csv(study.redact_csv, rules)
    assert transcripts_study(study).problems == []
    return study


def _documents(study):
    key = read_transcript_key(study)
    return key, read_documents(study, list(key["transcript_id"]))


def test_the_config_rates_every_demand_question_and_overall_with_not_codable():
    config = render_transcript_config(SCHEME)
    LabelInterface(config)  # Label Studio's own parser accepts it
    items = [item.id for item in rated_items(SCHEME)]
    assert items[:2] == ["clicked", "not_clicked"] and items[-1] == "overall"
    assert set(items) == set(SCHEME.scheme.item_ids)
    for item_id in items:
        assert f'name="{item_id}" toName="transcript"' in config
        assert f'value="{item_id}_nc" alias="not codable"' in config
        assert f'value="$where_{item_id}"' in config
    assert config.count(f'hotkey="{NO_HOTKEY}"') == len(items) * 12  # -1..9 and not codable
    assert '<HyperText name="transcript" value="$transcript" inline="true"/>' in config
    assert "position: sticky" in config and '<TextArea name="notes"' in config


def test_a_task_shows_the_dialogue_and_passages_and_names_no_family(study):
    key, documents = _documents(study)
    for row in key.itertuples():
        task = transcript_task(documents[row.transcript_id], SCHEME)
        assert task["clip_id"] == row.transcript_id
        assert set(task) == {"clip_id", "transcript"} | {
            f"where_{i.id}" for i in rated_items(SCHEME)}
        shown = " ".join(task.values())
        fam = FAMILIES[row.dyad_id]
        for leak in (row.dyad_id, row.timepoint, row.arm, row.source, "raw/", fam.child,
                     fam.program, fam.town):
            assert leak not in shown
        assert "Q4 A recent time the parent and child clicked &#8212; DEMAND" in task["transcript"]
        assert task["where_overall"] == "Rate the whole interview."
        assert task["where_clicked"].startswith("turns ")
    d02 = key.loc[key.dyad_id == "D02", "transcript_id"].iloc[0]
    assert transcript_task(documents[d02], SCHEME)["where_anger"].startswith("Not found")


def test_markup_in_a_transcript_is_shown_as_text():
    document = {"transcript_id": "t000000000001", "turns": [
        {"turn": 1, "speaker": "parent", "text": "<script>alert(1)</script> & <b>"}],
        "questions": [], "extras": []}
    html = transcript_task(document, SCHEME)["transcript"]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in html


def test_push_refuses_a_transcript_still_holding_a_redact_term(study):
    key, _ = _documents(study)
    assignments = key.rename(columns={"transcript_id": "clip_id"}).assign(
        batch="batch-01", coder="a@x.org", role="primary", order=range(1, len(key) + 1))
    queues, kind = interview_queues(study, assignments)
    assert kind is not None and not kind.has_clips and len(queues[("batch-01", "a@x.org")]) == 2
    with open(study.redact_csv, "a", encoding="utf-8") as handle:  # a term added after the stage
        handle.write("D01,daycare,[PLACE]\n")
    d01 = key.loc[key.dyad_id == "D01", "transcript_id"].iloc[0]
    with pytest.raises(PipelineError, match=f"Push refused: interview {d01} still contains "
                                            "'daycare'.*Nothing was pushed"):
        interview_queues(study, assignments)


def test_not_codable_is_pulled_as_an_empty_value_never_a_number():
    tasks = [{"data": {"clip_id": "t000000000001"}, "annotations": [{
        "id": 7, "completed_by": 1, "result": [
            {"from_name": "clicked", "type": "choices", "value": {"choices": ["not codable"]}},
            {"from_name": "overall", "type": "choices", "value": {"choices": ["-1"]}}]}]}]
    project = {"project_id": "3", "batch": "batch-01", "scheme_version": "1"}
    rows, problems = ratings_from_export(
        tasks, project, {1: "a@x.org"}, SCHEME.scheme,
        {("batch-01", "t000000000001", "a@x.org"): "primary"}, SCHEME.not_codable)
    assert problems == []
    by_item = {r["item"]: (r["value"], r["status"]) for r in rows}
    assert by_item == {"clicked": ("", "not_codable"), "overall": ("-1", "rated")}


def test_simulated_ratings_carry_the_dyads_effect():
    scheme = SCHEME.scheme

    def mean(unit, dyad):
        return sum(simulated_ratings(scheme, unit, "a@x.org", 1, dyad).values()) / 13

    same = [mean(f"u{n}", "D01") - mean(f"v{n}", "D01") for n in range(30)]
    other = [mean(f"u{n}", f"A{n}") - mean(f"v{n}", f"B{n}") for n in range(30)]
    assert sum(d * d for d in same) < sum(d * d for d in other)
