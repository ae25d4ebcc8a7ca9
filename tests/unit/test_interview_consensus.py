"""Consensus on interviews: the double-coded interviews whose coders disagree on a demand
question, the overall RF or a composite, saved as a consensus batch of interviews, and what its
project shows (no server)."""

import json

import pandas as pd
import pytest
from label_studio_sdk.label_interface import LabelInterface

from coding_pipeline import batches, consensus
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.transcript_config import render_transcript_config
from coding_pipeline.ratings import check_ratings
from coding_pipeline.scheme import load_scheme
from coding_pipeline.study import (
    init_study,
    read_transcript_key,
    resolve_scheme,
    write_csv_atomic,
    write_transcript_key,
)
from coding_pipeline.transcripts.scheme import load_transcript_scheme

SCHEME = load_scheme(resolve_scheme("pdi-rf.yaml"))
T1, T2, T3, T4 = "t000000000001", "t000000000002", "t000000000003", "t000000000004"
BASE = {"clicked": "5", "anger": "4", "overall": "5"}


def _rows(unit, coder, role, values, batch="batch-01"):
    return [{"clip_id": unit, "coder": coder, "role": role, "item": item, "value": value,
             "batch": batch, "status": "not_codable" if value == "" else "rated"}
            for item, value in values.items()]


RAW = pd.DataFrame([
    *_rows(T1, "a@x.org", "primary", BASE),
    *_rows(T1, "b@x.org", "reliability", {**BASE, "overall": "8"}),  # overall 3 apart
    *_rows(T2, "a@x.org", "primary", BASE),
    *_rows(T2, "b@x.org", "reliability", {**BASE, "anger": "5"}),  # 1 apart: not over 1
    *_rows(T3, "b@x.org", "primary", {**BASE, "clicked": ""}),  # not codable: no number
    *_rows(T3, "a@x.org", "reliability", {**BASE, "clicked": "-1", "anger": "7"}),
    *_rows(T4, "a@x.org", "primary", {**BASE, "overall": "1"}),  # single-coded
    *_rows(T1, "m@x.org", "consensus", BASE, batch="consensus-01"),  # not independent
])


def _clean():
    return check_ratings(RAW, SCHEME)[0]


def test_interviews_over_the_threshold_on_a_question_or_overall_are_picked():
    found = consensus.find_disagreements(_clean(), SCHEME, threshold=1)
    assert [f["clip_id"] for f in found] == [T1, T3]
    assert found[0]["coders"] == ["a@x.org", "b@x.org"]  # the primary coder is Coder 1
    assert found[0]["ratings"]["overall"] == [5, 8]
    assert found[0]["over"] == [{"item": "overall", "spread": 3}]
    # "not codable" is missing: clicked has one rating only, so only anger is over
    assert found[1]["coders"] == ["b@x.org", "a@x.org"]
    assert found[1]["ratings"]["clicked"] == [None, -1]
    assert found[1]["over"] == [{"item": "anger", "spread": 3}]
    assert [f["clip_id"] for f in consensus.find_disagreements(_clean(), SCHEME, 0)] == [
        T1, T2, T3]


def test_interview_composites_can_be_compared_instead():
    found = consensus.find_disagreements(_clean(), SCHEME, threshold=1.5, composite=True,
                                         min_item_share=0.1)  # few items rated here
    assert [f["clip_id"] for f in found] == [T1, T3]
    assert {"composite": "rf_overall", "spread": 3} in found[0]["over"]
    assert found[1]["composites"]["rf_self_focused"] == [4, 7]
    shown = consensus.shown_fields(found[1], SCHEME)
    assert shown["shown_clicked"] == "Coder 1 / Coder 2: - / -1"
    assert "DISAGREE (3 apart)" in shown["shown_anger"]
    assert "composite, 3 apart" in shown["shown_summary"]


def _key():
    return pd.DataFrame([
        {"transcript_id": t, "dyad_id": dyad, "timepoint": "baseline", "arm": "MIO",
         "interview": "PDI", "source": "raw/x.txt", "sha256": "0" * 64,
         "read_at": "2026-01-01T00:00:00Z"}
        for t, dyad in ((T1, "D1"), (T2, "D1"), (T3, "D2"), (T4, "D3"))])


def test_create_saves_a_consensus_batch_of_interviews(tmp_path):
    study = init_study(tmp_path / "s")
    write_transcript_key(study, _key(), read_transcript_key(study))
    with pytest.raises(PipelineError, match="--interviews: .*ratings.csv holds no rating"):
        consensus.create_consensus_batch(study, "m@x.org", interviews=True)
    write_csv_atomic(study.ratings_csv, RAW)
    made = consensus.create_consensus_batch(study, "m@x.org", threshold=1, seed=1,
                                            interviews=True)
    meta = json.loads((study.batches_dir / "consensus-01.json").read_text())
    assert meta["unit"] == "interview" and meta["kind"] == "consensus"
    assert meta["threshold"] == 1 and meta["composite"] is False
    assert [e["clip_id"] for e in meta["disagreements"]] == [T1, T3]
    (loaded,) = batches.load_batches(study)
    assert batches.is_interview_batch(loaded)
    assert set(loaded.assignments["role"]) == {"consensus"}
    assert sorted(loaded.assignments["clip_id"]) == sorted(made.plan.assignments["clip_id"])
    assert "2 interview(s) whose coders differ" in batches.format_plan(loaded)
    again = consensus.create_consensus_batch(study, "m@x.org", threshold=0, interviews=True)
    assert [e["clip_id"] for e in again.plan.extra["disagreements"]] == [T2]  # only new ones
    assert consensus.consensus_summary(batches.load_batches(study), interviews=True)[
        "clips"] == 3
    assert consensus.consensus_summary(batches.load_batches(study))["clips"] == 0
    # a coder's rating changed after the batch was made is reported for interviews only
    changed = RAW.copy()
    changed.loc[(changed.clip_id == T1) & (changed.coder == "b@x.org")
                & (changed.item == "overall"), "value"] = "6"
    clean = check_ratings(changed, SCHEME)[0]
    plans = batches.load_batches(study)
    assert consensus.recoded_after_consensus(clean, plans) == []
    assert consensus.recoded_after_consensus(clean, plans, interviews=True) == [
        {"batch": "consensus-01", "clip_id": T1, "coder": "Coder 2", "email": "b@x.org",
         "item": "overall", "was": 8, "now": 6}]
    lines = consensus.format_recoded(
        consensus.recoded_after_consensus(clean, plans, interviews=True), unit="interview")
    assert lines[0].startswith("Re-coded after consensus: 1 interview(s) have ratings changed")
    assert lines[1] == f"  consensus-01, interview {T1}, b@x.org (Coder 2), overall: 8 -> 6"


def test_the_interview_consensus_config_shows_the_coders_ratings_in_each_row():
    transcript = load_transcript_scheme(resolve_scheme("pdi-rf.yaml"))
    plain = render_transcript_config(transcript)
    config = render_transcript_config(transcript, consensus=True)
    assert "$shown_" not in plain
    assert "$shown_summary" in config and "$shown_overall" in config and "$shown_anger" in config
    assert "How the agreed ratings were reached" in config
    LabelInterface(config)  # Label Studio parses it
    with_shown = consensus.with_consensus_fields(
        {("consensus-01", "m@x.org"): [{"clip_id": T1, "transcript": "<p>x</p>"}],
         ("batch-01", "a@x.org"): [{"clip_id": T1, "transcript": "<p>x</p>"}]},
        [batches.BatchPlan(name="consensus-01", kind="consensus", coders=["m@x.org"], seed=1,
                           reliability_share=0.0, assignments=pd.DataFrame(),
                           extra={"disagreements": consensus.find_disagreements(
                               _clean(), SCHEME, 1)})],
        SCHEME)
    task = with_shown[("consensus-01", "m@x.org")][0]
    assert task["shown_overall"].startswith("Coder 1 / Coder 2: 5 / 8   << DISAGREE")
    assert with_shown[("batch-01", "a@x.org")][0] == {"clip_id": T1, "transcript": "<p>x</p>"}
