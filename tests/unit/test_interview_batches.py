"""Batches of interviews: planned over transcripts.csv like clips, marked in NAME.json."""

import json

import pandas as pd
import pytest

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.study import (
    batch_clip_ids,
    check_clip_key,
    init_study,
    read_transcript_key,
    write_transcript_key,
)

CODERS = ["a@x.org", "b@x.org"]


def _key(n_dyads=6, timepoints=("baseline", "post", "3m")):
    rows = [{"transcript_id": f"t{d:06x}{t:06x}", "dyad_id": f"D{d:02d}", "timepoint": tp,
             "arm": "MIO" if d % 2 else "PE", "interview": "PDI", "source": "raw/x.txt",
             "sha256": "0" * 64, "read_at": "2026-01-01T00:00:00Z"}
            for d in range(n_dyads) for t, tp in enumerate(timepoints)]
    return pd.DataFrame(rows)


@pytest.fixture()
def study(tmp_path):
    study = init_study(tmp_path / "study")
    write_transcript_key(study, _key(), read_transcript_key(study))
    return study


def test_an_interview_batch_plans_every_interview_marked_as_interviews(study):
    plan = batches.create_batch(study, CODERS, reliability_share=0.5, seed=3, interviews=True)
    table = plan.assignments
    assert sorted(table.loc[table.role == "primary", "clip_id"]) == sorted(_key().transcript_id)
    assert (table.role == "reliability").sum() == 9
    meta = json.loads((study.batches_dir / f"{plan.name}.json").read_text())
    assert meta["unit"] == "interview"
    (loaded,) = batches.load_batches(study)
    assert batches.is_interview_batch(loaded)
    summary = batches.format_plan(loaded)
    assert "interviews: 18" in summary and "interviews double-coded by each pair" in summary
    assert "clips" not in summary
    with pytest.raises(PipelineError, match="Every interview in .*transcripts.csv"):
        batches.create_batch(study, CODERS, seed=4, interviews=True)


def test_one_mothers_interviews_never_come_in_a_row(study):
    plan = batches.create_batch(study, CODERS, reliability_share=1.0, seed=5, interviews=True)
    mother = _key().set_index("transcript_id").dyad_id
    for _, queue in plan.assignments.groupby("coder"):
        families = list(mother[queue.sort_values("order").clip_id])
        assert all(a != b for a, b in zip(families, families[1:], strict=False))


def test_clip_batches_stay_clip_batches_and_need_no_transcripts(tmp_path):
    study = init_study(tmp_path / "study")
    with pytest.raises(PipelineError, match="lists no interviews: run `coding-pipeline "
                                             "transcripts"):
        batches.create_batch(study, CODERS, interviews=True)


def test_training_and_recalibration_sets_of_interviews(study):
    plan = batches.create_training_batch(study, "m@x.org", CODERS, n_clips=4, seed=1,
                                         interviews=True)
    assert plan.extra["unit"] == "interview" and plan.kind == "training"
    assert set(plan.assignments.clip_id) <= set(_key().transcript_id)
    assert len(set(plan.assignments.clip_id)) == 4
    ratings = pd.DataFrame(
        [{"clip_id": t, "coder": "m@x.org", "item": "overall", "value": "5",
          "annotation_id": str(n), "project": "1", "batch": plan.name, "role": "master",
          "status": "rated", "created_at": "", "updated_at": "", "lead_time": "",
          "scheme_version": "1", "notes": ""}
         for n, t in enumerate(sorted(set(plan.assignments.clip_id)))])
    ratings.to_csv(study.ratings_csv, index=False)
    again = batches.create_recalibration_batch(study, "a@x.org", "m@x.org", n_clips=3, seed=2,
                                               interviews=True)
    assert again.extra == {"recalibrate": "a@x.org", "unit": "interview"}
    assert set(again.assignments.clip_id) <= set(ratings.clip_id)


def test_the_clip_key_check_ignores_the_transcript_ids_of_interview_batches(study):
    plan = batches.create_batch(study, CODERS, reliability_share=0.0, seed=1, interviews=True)
    assert batch_clip_ids(study) == {study.batches_dir / f"{plan.name}.csv": set()}
    check_clip_key(study, pd.DataFrame({"clip_id": []}, dtype=str))  # no clip is missing
