"""Recalibration: a coder whose last N double-coded clips fall below the certification
criteria is flagged; a recalibration set is scored against the master as a dated
recertification; the set holds clips the master has rated."""

from datetime import UTC, datetime, timedelta

import krippendorff
import numpy as np
import pandas as pd
import pytest

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.reliability import (
    compute_reliability,
    format_table,
    recalibration_flags,
    recertification,
)
from coding_pipeline.scheme import parse_scheme
from coding_pipeline.scores import check_ratings

SCHEME = parse_scheme({
    "name": "mini", "version": 1, "scale": {"min": 1, "max": 5},
    "items": [{"id": "warmth", "label": "Warmth"}, {"id": "praise", "label": "Praise"}],
    "composites": [{"id": "sensitivity", "label": "Sensitivity", "items": ["warmth", "praise"]}],
})
START = datetime(2026, 9, 1, tzinfo=UTC)


def pair_rows(clip, first, second, day, values, drift=0, batch="batch-01"):
    """Two coders rating one clip on `day`: the second shifted by `drift` points."""
    stamp = (START + timedelta(days=day)).isoformat()
    rows = []
    for coder, role, shift in ((first, "primary", 0), (second, "reliability", drift)):
        for item, value in zip(("warmth", "praise"), values, strict=True):
            rows.append({"clip_id": clip, "coder": coder, "item": item, "role": role,
                         "value": int(np.clip(value + shift, 1, 5)), "batch": batch,
                         "status": "rated", "created_at": stamp, "updated_at": stamp})
    return rows


def drifting_study():
    """a-b agree all along; c agreed with a early on, then drifts (3 points) with b."""
    rng = np.random.default_rng(4)
    rows = []
    for n in range(10):  # c's early clips, with a: agree
        rows += pair_rows(f"early{n}", "a@x.org", "c@x.org", n, rng.integers(1, 6, 2))
    for n in range(10):  # c's last clips, with b: 3 points apart, more or less
        rows += pair_rows(f"late{n}", "b@x.org", "c@x.org", 20 + n, rng.integers(1, 3, 2),
                          drift=3)
    for n in range(20):  # a and b agree, after everything else
        rows += pair_rows(f"ab{n}", "a@x.org", "b@x.org", 40 + n, rng.integers(1, 6, 2))
    return pd.DataFrame(rows)


def test_a_drifting_coder_is_flagged_over_their_last_clips_only():
    clean = check_ratings(drifting_study(), SCHEME)[0]
    flags = {f["coder"]: f for f in recalibration_flags(clean, SCHEME, last_clips=10)}
    assert flags["c@x.org"]["status"] == "recalibrate"
    assert flags["c@x.org"]["n_clips"] == 10
    assert flags["c@x.org"]["within_one_agreement"] == 0.0
    assert flags["c@x.org"]["until"] == "2026-09-30"
    assert flags["a@x.org"]["status"] == flags["b@x.org"]["status"] == "ok"
    # the window is c's last 10 clips: c's alpha equals krippendorff's on exactly those
    late = clean[clean["clip_id"].str.startswith("late")]
    matrix = late.pivot_table(index="coder", columns=["clip_id", "item"], values="value")
    expected = krippendorff.alpha(matrix.to_numpy(), level_of_measurement="ordinal",
                                  value_domain=[1, 2, 3, 4, 5])
    assert flags["c@x.org"]["alpha"] == pytest.approx(expected, abs=1e-6)
    # over c's first clips too (last 20), the early agreement is counted
    wide = {f["coder"]: f for f in recalibration_flags(clean, SCHEME, last_clips=20)}
    assert wide["c@x.org"]["n_clips"] == 20
    assert wide["c@x.org"]["within_one_agreement"] == pytest.approx(0.5)


def test_reliability_reports_the_flag_and_too_few_clips():
    ratings = pd.concat([drifting_study(), pd.DataFrame(
        pair_rows("lone", "d@x.org", "a@x.org", 70, [3, 3]))])
    result = compute_reliability(ratings, SCHEME, bootstrap=0, last_clips=10)
    flags = {f["coder"]: f["status"] for f in result["recalibration"]}
    assert flags["c@x.org"] == "recalibrate" and flags["d@x.org"] == "too few clips"
    assert "recalibrate c@x.org: over their last 10 double-coded clips" in format_table(result)


def test_recertification_is_against_the_masters_own_ratings_with_a_date():
    rows = drifting_study().to_dict("records")
    stamp = (START + timedelta(days=90)).isoformat()
    for n in range(6):  # c re-rates six clips a (the master) rated as a study coder
        for item in ("warmth", "praise"):
            master = next(r["value"] for r in rows
                          if r["clip_id"] == f"ab{n}" and r["coder"] == "a@x.org"
                          and r["item"] == item)
            rows.append({"clip_id": f"ab{n}", "coder": "c@x.org", "item": item,
                         "role": "recalibration", "value": master, "batch": "recalibration-01",
                         "status": "rated", "created_at": stamp, "updated_at": stamp})
    clean = check_ratings(pd.DataFrame(rows), SCHEME)[0]
    (entry,) = recertification(clean, SCHEME, {"recalibration-01": "a@x.org"})
    assert entry["kind"] == "recertification" and entry["date"] == "2026-11-30"
    assert entry["n_clips"] == 6 and entry["within_one_agreement"] == 1.0
    assert entry["status"] == "pass" and entry["master"] == "a@x.org"
    result = compute_reliability(pd.DataFrame(rows), SCHEME, bootstrap=0,
                                 recalibration_masters={"recalibration-01": "a@x.org"})
    assert [c["kind"] for c in result["certification"]] == ["recertification"]
    # recalibration ratings are neither study ratings nor scores: reliability is unchanged
    before = compute_reliability(drifting_study(), SCHEME, bootstrap=0)
    assert result["items"] == before["items"] and result["pairs"] == before["pairs"]


def test_the_recalibration_set_holds_master_rated_clips_fresh_ones_first():
    clips = pd.DataFrame({"clip_id": [f"k{n}" for n in range(12)],
                          "dyad_id": [f"D{n // 2}" for n in range(12)],
                          "timepoint": ["T1", "T2"] * 6, "arm": ["A"] * 6 + ["B"] * 6})
    master_rated = {f"k{n}" for n in range(8)}
    coder_rated = {"k0", "k1", "k2", "k3", "k4", "k10"}
    plan = batches.plan_recalibration_batch(clips, master_rated, coder_rated, "c@x.org",
                                            "m@x.org", "recalibration-01", 4, seed=1)
    picked = set(plan.assignments["clip_id"])
    assert len(picked) == 4 and picked <= master_rated
    assert {"k5", "k6", "k7"} <= picked  # the three the coder has not rated come first
    assert set(plan.assignments["role"]) == {"recalibration"}
    assert plan.kind == "training" and plan.master == "m@x.org"
    assert plan.meta()["recalibrate"] == "c@x.org"
    assert "recalibration of c@x.org" in batches.format_plan(plan)
    with pytest.raises(PipelineError, match="has rated 0 clip"):
        batches.plan_recalibration_batch(clips, set(), set(), "c@x.org", "m@x.org", "r", 4, 1)
    with pytest.raises(PipelineError, match="against themselves"):
        batches.plan_recalibration_batch(clips, master_rated, set(), "m@x.org", "m@x.org",
                                         "r", 4, 1)
