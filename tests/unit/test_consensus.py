"""Consensus selection (pure): which clips go to consensus, what the consensus coder sees,
and which clips were re-coded afterwards."""

import pandas as pd
import pytest

from coding_pipeline import batches, consensus
from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import load_scheme
from coding_pipeline.scores import check_ratings
from coding_pipeline.study import init_study, schemes_dir, write_csv_atomic

SCHEME = load_scheme(schemes_dir() / "global_sensitivity_9point.yaml")


def ratings(rows):
    """rows: (clip, coder, role, {item: value})"""
    table = pd.DataFrame([
        {"clip_id": clip, "coder": coder, "role": role, "item": item, "value": value,
         "batch": "training-01" if role in ("training", "master") else "batch-01",
         "status": "rated"}
        for clip, coder, role, values in rows for item, value in values.items()
    ])
    return check_ratings(table, SCHEME)[0]


BASE = {"global_sensitivity": 5, "child_responsiveness": 4, "mutuality": 4}


def with_(**changes):
    return {**BASE, **changes}


CLEAN = ratings([
    ("c1", "b@x.org", "reliability", with_(global_sensitivity=8)),  # 3 apart
    ("c1", "a@x.org", "primary", BASE),
    ("c2", "a@x.org", "primary", BASE),
    ("c2", "b@x.org", "reliability", with_(mutuality=5)),  # 1 apart: not over 1
    ("c3", "a@x.org", "primary", BASE),  # single-coded
    ("c4", "a@x.org", "primary", with_(child_responsiveness=2)),
    ("c4", "b@x.org", "reliability", with_(mutuality=6)),  # 2 apart on two items
    ("t1", "m@x.org", "master", with_(global_sensitivity=9)),
    ("t1", "a@x.org", "training", with_(global_sensitivity=1)),
    ("c1", "m@x.org", "consensus", BASE),  # a consensus rating is not independent
])


def test_only_double_coded_study_clips_over_the_threshold_are_picked():
    found = consensus.find_disagreements(CLEAN, SCHEME, threshold=1)
    assert [f["clip_id"] for f in found] == ["c1", "c4"]
    c1, c4 = found
    assert c1["coders"] == ["a@x.org", "b@x.org"]  # Coder 1 is the primary coder
    assert c1["ratings"]["global_sensitivity"] == [5, 8]
    assert c1["over"] == [{"item": "global_sensitivity", "spread": 3}]
    assert c4["over"] == [{"item": "child_responsiveness", "spread": 2},
                          {"item": "mutuality", "spread": 2}]
    assert [f["clip_id"] for f in consensus.find_disagreements(CLEAN, SCHEME, threshold=0)] == [
        "c1", "c2", "c4"]
    assert consensus.find_disagreements(CLEAN, SCHEME, threshold=3) == []
    assert [f["clip_id"] for f in consensus.find_disagreements(
        CLEAN, SCHEME, threshold=1, exclude={"c1"})] == ["c4"]


def test_composite_mode_compares_composites():
    # c4: responsiveness 4 vs 2... composite dyadic_mutuality = mean(resp, mutuality):
    # a: (2 + 4) / 2 = 3, b: (4 + 6) / 2 = 5 -> 2 apart; c1: sensitivity 5 vs 8 -> 3 apart
    found = consensus.find_disagreements(CLEAN, SCHEME, threshold=1.5, composite=True)
    assert [(f["clip_id"], f["over"]) for f in found] == [
        ("c1", [{"composite": "sensitivity", "spread": 3}]),
        ("c4", [{"composite": "dyadic_mutuality", "spread": 2}]),
    ]
    assert found[1]["composites"]["dyadic_mutuality"] == [3, 5]
    assert consensus.marked_items(found[1], SCHEME) == ["child_responsiveness", "mutuality"]


def test_the_consensus_task_shows_ratings_without_names():
    entry = consensus.find_disagreements(CLEAN, SCHEME, threshold=1)[0]
    shown = consensus.shown_fields(entry, SCHEME)
    assert shown == {
        "shown_global_sensitivity": "Coder 1 / Coder 2: 5 / 8   << DISAGREE (3 apart)",
        "shown_child_responsiveness": "Coder 1 / Coder 2: 4 / 4",
        "shown_mutuality": "Coder 1 / Coder 2: 4 / 4",
        "shown_summary": "Disagreement on: Global caregiver sensitivity (3 apart)",
    }
    assert "x.org" not in " ".join(shown.values())


def test_consensus_plan_deals_clips_and_prefers_a_coder_of_the_pair():
    found = consensus.find_disagreements(CLEAN, SCHEME, threshold=1)
    clips = pd.DataFrame({"clip_id": ["c1", "c2", "c3", "c4"], "dyad_id": ["D1", "D1", "D2",
                                                                            "D2"]})
    plan = consensus.plan_consensus_batch(found, ["m@x.org"], clips, "consensus-01", 1, False, 3)
    assert list(plan.assignments["role"].unique()) == ["consensus"]
    assert set(plan.assignments["clip_id"]) == {"c1", "c4"}
    two = consensus.plan_consensus_batch(found, ["z@x.org", "b@x.org"], clips, "n", 1, False, 3)
    assert dict(zip(two.assignments["clip_id"], two.assignments["coder"], strict=True)) == {
        "c1": "b@x.org", "c4": "z@x.org"}
    assert plan.meta()["threshold"] == 1 and plan.meta()["disagreements"] == found


def test_recoded_after_consensus_and_the_summary():
    found = consensus.find_disagreements(CLEAN, SCHEME, threshold=1)
    plan = batches.BatchPlan(name="consensus-01", kind="consensus", coders=["m@x.org"], seed=1,
                             reliability_share=0.0, assignments=pd.DataFrame(),
                             extra={"disagreements": found})
    assert consensus.recoded_after_consensus(CLEAN, [plan]) == []
    changed = CLEAN.copy()
    row = (changed.clip_id == "c1") & (changed.coder == "b@x.org") & (
        changed.item == "global_sensitivity")
    changed.loc[row, "value"] = 6.0
    assert consensus.recoded_after_consensus(changed, [plan]) == [
        {"batch": "consensus-01", "clip_id": "c1", "coder": "Coder 2", "email": "b@x.org",
         "item": "global_sensitivity", "was": 8, "now": 6}]
    assert consensus.consensus_summary([plan]) == {
        "clips": 2, "items": {"global_sensitivity": 1, "child_responsiveness": 1,
                              "mutuality": 1}, "spreads": {2: 2, 3: 1}}


def test_create_saves_a_batch_once_and_says_who_records(tmp_path):
    study = init_study(tmp_path / "s", scheme="global_sensitivity_9point.yaml")
    clips = pd.DataFrame({"clip_id": ["c1", "c2", "c3", "c4", "t1"],
                          "dyad_id": ["D1", "D1", "D2", "D2", "D3"],
                          "timepoint": "T1", "file": "clips/x.mp4"})
    write_csv_atomic(study.clips_csv, clips)
    write_csv_atomic(study.ratings_csv, CLEAN.drop(columns=["rated_at", "line"]))
    with pytest.raises(PipelineError, match="Give --coders"):
        consensus.create_consensus_batch(study, None, threshold=1)
    made = consensus.create_consensus_batch(study, "m@x.org", threshold=1, seed=1)
    assert made.plan.name == "consensus-01"
    loaded = batches.load_batches(study)[0]
    assert loaded.kind == "consensus" and loaded.extra["threshold"] == 1
    assert len(loaded.extra["disagreements"]) == 2
    again = consensus.create_consensus_batch(study, "m@x.org", threshold=0, seed=1)
    assert [e["clip_id"] for e in again.plan.extra["disagreements"]] == ["c2"]  # only new ones
    assert consensus.create_consensus_batch(study, "m@x.org", threshold=0).plan is None
    assert len(list((study.root / "batches").glob("*.json"))) == 2


def test_cli_refuses_unclear_recalibration_and_consensus_options(tmp_path):
    from click.testing import CliRunner

    from coding_pipeline.cli import cli

    study = init_study(tmp_path / "s")
    runner = CliRunner()
    result = runner.invoke(cli, ["batch", "create", str(study.root), "--recalibrate", "a@x.org"])
    assert result.exit_code == 1 and "needs --master M" in result.output
    result = runner.invoke(cli, ["batch", "create", str(study.root)])
    assert result.exit_code == 1 and "Give --coders" in result.output
    result = runner.invoke(cli, ["consensus", "create", str(study.root)])
    assert result.exit_code == 1 and "Who records the agreed ratings?" in result.output
    assert "Traceback" not in result.output
