"""Batch planning: balance, the reliability subset, no family twice in a row, files."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.study import init_study, write_csv_atomic


def make_clips(n_dyads=10, timepoints=("T1", "T2"), per_session=3, arms=("A", "B")):
    rows = []
    for d in range(n_dyads):
        for t in timepoints:
            for k in range(per_session):
                rows.append({"clip_id": f"c{d:02d}{t}{k}", "dyad_id": f"D{d:02d}",
                             "timepoint": t, "arm": arms[d % len(arms)]})
    return pd.DataFrame(rows)


def test_every_clip_has_one_primary_coder_and_coders_are_balanced():
    clips = make_clips()
    plan = batches.plan_coding_batch(clips, ["a@x.org", "b@x.org", "c@x.org"], "b1", 0.2, seed=1)
    table = plan.assignments
    primary = table[table.role == "primary"]
    assert sorted(primary.clip_id) == sorted(clips.clip_id)
    counts = Counter(primary.coder)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_reliability_subset_is_stratified_and_second_coder_differs():
    clips = make_clips(n_dyads=20)  # 120 clips, 4 strata of 30
    plan = batches.plan_coding_batch(clips, ["a@x.org", "b@x.org"], "b1", 0.2, seed=7)
    table = plan.assignments
    second = table[table.role == "reliability"]
    assert len(second) == 24
    strata = clips.set_index("clip_id").loc[second.clip_id]
    assert Counter(zip(strata.timepoint, strata.arm, strict=True)) == {
        ("T1", "A"): 6, ("T1", "B"): 6, ("T2", "A"): 6, ("T2", "B"): 6}
    primary = table[table.role == "primary"].set_index("clip_id").coder
    assert all(primary[c] != coder for c, coder in zip(second.clip_id, second.coder, strict=True))


def test_plan_is_reproducible_from_its_seed():
    clips = make_clips()
    one = batches.plan_coding_batch(clips, ["a@x.org", "b@x.org"], "b1", 0.2, seed=3)
    two = batches.plan_coding_batch(clips, ["a@x.org", "b@x.org"], "b1", 0.2, seed=3)
    other = batches.plan_coding_batch(clips, ["a@x.org", "b@x.org"], "b1", 0.2, seed=4)
    pd.testing.assert_frame_equal(one.assignments, two.assignments)
    assert not one.assignments.equals(other.assignments)


def test_no_family_twice_in_a_row_in_any_queue():
    clips = make_clips(n_dyads=6, per_session=4)
    plan = batches.plan_coding_batch(clips, ["a@x.org", "b@x.org"], "b1", 0.5, seed=11)
    family = clips.set_index("clip_id").dyad_id
    for _, queue in plan.assignments.groupby("coder"):
        queue = queue.sort_values("order")
        assert list(queue.order) == list(range(1, len(queue) + 1))
        dyads = list(family[queue.clip_id])
        assert all(a != b for a, b in zip(dyads, dyads[1:], strict=False))


@pytest.mark.parametrize("seed", range(30))
def test_spread_order_avoids_runs_whenever_possible(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, size=rng.integers(2, 6))
    if sizes.max() * 2 > sizes.sum() + 1:  # a run is unavoidable
        sizes[sizes.argmax()] = (sizes.sum() - sizes.max()) + 1
    families = [f"F{i}" for i, n in enumerate(sizes) for _ in range(n)]
    ids = [f"c{i}" for i in range(len(families))]
    order = batches.spread_order(ids, families, rng)
    assert sorted(order) == sorted(ids)
    of = dict(zip(ids, families, strict=True))
    assert all(of[a] != of[b] for a, b in zip(order, order[1:], strict=False))


def test_training_batch_gives_the_same_clips_to_master_and_trainees():
    clips = make_clips()
    plan = batches.plan_training_batch(clips, "m@x.org", ["t1@x.org", "t2@x.org"], "tr", 8, seed=2)
    table = plan.assignments
    sets = {coder: set(g.clip_id) for coder, g in table.groupby("coder")}
    assert len(sets["m@x.org"]) == 8
    assert sets["m@x.org"] == sets["t1@x.org"] == sets["t2@x.org"]
    assert set(table[table.coder == "m@x.org"].role) == {"master"}


def test_bad_coders_are_named():
    with pytest.raises(PipelineError, match="not-an-email"):
        batches.parse_coders("a@x.org,not-an-email")
    with pytest.raises(PipelineError, match="twice"):
        batches.parse_coders("a@x.org,A@x.org")


def test_create_batch_saves_files_and_uses_up_clips(tmp_path):
    study = init_study(tmp_path / "s")
    clips = make_clips(n_dyads=4)
    write_csv_atomic(study.clips_csv, clips.assign(file="clips/" + clips.clip_id + ".mp4"))
    first = batches.create_batch(study, "a@x.org,b@x.org", reliability_share=0.25, seed=1)
    assert first.name == "batch-01"
    assert (tmp_path / "s/batches/batch-01.csv").is_file()
    loaded = batches.load_assignments(study)
    assert len(loaded) == 24 + 6
    assert set(loaded.columns) == {"batch", "kind", "clip_id", "coder", "role", "order"}
    with pytest.raises(PipelineError, match="already in a coding batch"):
        batches.create_batch(study, "a@x.org,b@x.org")
    training = batches.create_training_batch(study, "m@x.org", "t@x.org", n_clips=4, seed=1)
    assert training.name == "training-01"
    assert "primary" in batches.format_plan(first)
    with pytest.raises(PipelineError, match="already exists"):
        batches.create_training_batch(study, "m@x.org", "t@x.org", name="training-01")


# ---------------------------------------------------------------- fair double coding


def _plan_study(seed: int, n_coders: int, n_batches: int, share: float):
    """Batches planned one after another with the study's history, as `create_batch` does."""
    rng = np.random.default_rng(seed)
    coders = [f"c{i}@x.org" for i in range(n_coders)]
    history = pd.DataFrame(columns=["batch", "clip_id", "coder", "role"])
    plans = []
    for number in range(n_batches):
        clips = make_clips(n_dyads=int(rng.integers(2, 9)), per_session=int(rng.integers(1, 5)))
        clips = clips.assign(clip_id=f"b{number}" + clips["clip_id"])
        plan = batches.plan_coding_batch(clips, coders, f"b{number}", share,
                                         int(rng.integers(2**31)), history=history)
        plans.append((clips, plan))
        history = pd.concat([history, plan.assignments.assign(batch=plan.name)[history.columns]])
    return coders, plans, history


def _spread(counts, coders):
    return max(counts[c] for c in coders) - min(counts[c] for c in coders)


@pytest.mark.parametrize("n_coders", range(2, 9))
@pytest.mark.parametrize("n_batches", [1, 3, 5])
def test_double_coding_is_fair_within_and_across_batches(n_coders, n_batches):
    for seed in range(8):
        share = (0.2, 0.25, 0.5, 1.0)[seed % 4]
        coders, plans, history = _plan_study(seed, n_coders, n_batches, share)
        for clips, plan in plans:
            table = plan.assignments
            loads = batches.Loads.of(table)
            assert _spread(loads.second, coders) <= 1
            assert _spread(loads.primary, coders) <= 1
            primary = table[table.role == "primary"].set_index("clip_id").coder
            second = table[table.role == "reliability"]
            assert all(primary[c] != s for c, s in zip(second.clip_id, second.coder, strict=True))
            assert sorted(primary.index) == sorted(clips.clip_id)
        total = batches.Loads.of(history)
        assert _spread(total.second, coders) <= 2
        assert _spread(total.primary, coders) <= 3
        pairs = n_coders * (n_coders - 1) // 2
        if sum(total.pairs.values()) >= 2 * pairs:  # enough double-coded clips for every pair
            assert all(total.pairs[frozenset((a, b))] > 0
                       for a in coders for b in coders if a < b), (seed, share)


def test_each_coder_gets_clips_of_every_stratum():
    clips = make_clips(n_dyads=20)  # 120 clips, 4 strata of 30
    plan = batches.plan_coding_batch(clips, ["a@x.org", "b@x.org", "c@x.org"], "b1", 0.2,
                                     seed=5)
    primary = plan.assignments[plan.assignments.role == "primary"]
    strata = clips.set_index("clip_id").loc[primary.clip_id]
    per = Counter(zip(primary.coder, strata.timepoint, strata.arm, strict=True))
    assert len(per) == 12 and max(per.values()) - min(per.values()) <= 1


def test_the_issue_case_second_coding_is_shared_across_two_batches():
    """Two batches of 2 coders: before, every second-coder clip could go to one coder."""
    coders = ["ana@lab.org", "ben@lab.org"]
    history = None
    for number in range(2):
        clips = make_clips(n_dyads=8, per_session=3 + number)
        clips = clips.assign(clip_id=f"b{number}" + clips["clip_id"])
        plan = batches.plan_coding_batch(clips, coders, f"b{number}", 0.2, seed=number,
                                         history=history)
        table = plan.assignments.assign(batch=plan.name)
        history = table if history is None else pd.concat([history, table])
    total = batches.Loads.of(history)
    assert _spread(total.second, coders) <= 1 and _spread(total.primary, coders) <= 1


def test_pair_matrix_counts_shared_clips_and_batch_show_prints_it():
    clips = make_clips(n_dyads=10)
    plan = batches.plan_coding_batch(clips, ["a@x.org", "b@x.org", "c@x.org"], "b1", 0.5, seed=2)
    matrix = batches.pair_matrix(plan.assignments)
    assert matrix.to_numpy().sum() == 2 * (plan.assignments.role == "reliability").sum()
    assert (matrix.to_numpy() == matrix.to_numpy().T).all()
    assert (matrix.to_numpy()[~np.eye(3, dtype=bool)] > 0).all()
    assert "double-coded by each pair" in batches.format_plan(plan)
