"""The pure parts of pull, push, status and the simulated coders (no server)."""

from __future__ import annotations

from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.annotations import (
    RATINGS_COLUMNS,
    Problem,
    carried_over,
    compare_ratings,
    ratings_from_export,
    summarise_problems,
)
from coding_pipeline.labelstudio.project_schemes import scheme_problem
from coding_pipeline.labelstudio.push import missing_tasks, push_order
from coding_pipeline.labelstudio.simulate import annotation_result, simulated_ratings
from coding_pipeline.labelstudio.status import progress_table, task_progress
from coding_pipeline.labelstudio.tamper import foreign_annotations, keep_coders_own
from coding_pipeline.labelstudio.transport import local_file_url
from coding_pipeline.scheme import load_scheme
from coding_pipeline.study import schemes_dir

SCHEME = load_scheme(schemes_dir() / "sensitivity_involvement_reciprocity.yaml")
PROJECT = {"project_id": "7", "batch": "batch-01", "coder": "a@lab.org", "scheme_version": "1"}
EMAILS = {3: "a@lab.org", 4: "b@lab.org"}
ROLES = {("batch-01", "c1", "a@lab.org"): "primary", ("batch-01", "c2", "a@lab.org"): "primary"}


def choice(item: str, value: str) -> dict:
    return {"from_name": item, "to_name": "video", "type": "choices",
            "value": {"choices": [value]}}


def annotation(id_: int, results: list, by: int = 3, cancelled: bool = False) -> dict:
    return {"id": id_, "completed_by": by, "result": results, "was_cancelled": cancelled,
            "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01T10:05:00Z",
            "lead_time": 61.25}


def test_each_rated_item_becomes_a_row_with_its_context():
    tasks = [{"id": 1, "data": {"clip_id": "c1"}, "annotations": [annotation(11, [
        choice("warmth", "4"), choice("withdrawal", "2"),
        {"from_name": "notes", "to_name": "video", "type": "textarea",
         "value": {"text": ["fussy at the end"]}},
    ])]}]
    rows, problems = ratings_from_export(tasks, PROJECT, EMAILS, SCHEME, ROLES)
    assert problems == []
    assert [(r["item"], r["value"]) for r in rows] == [("warmth", "4"), ("withdrawal", "2")]
    first = rows[0]
    assert set(first) == set(RATINGS_COLUMNS)
    assert first["coder"] == "a@lab.org" and first["role"] == "primary"
    assert first["project"] == "7" and first["batch"] == "batch-01"
    assert first["status"] == "rated" and first["notes"] == "fussy at the end"
    assert first["lead_time"] == "61.250" and first["scheme_version"] == "1"


def test_skips_out_of_scale_values_unknown_controls_and_strangers_are_reported():
    tasks = [
        {"id": 1, "data": {"clip_id": "c1"}, "annotations": [annotation(11, [], cancelled=True)]},
        {"id": 2, "data": {"clip_id": "c2"}, "annotations": [
            annotation(12, [choice("warmth", "7"), choice("no_such_item", "3"),
                            choice("fluency", "2.5")]),
            annotation(13, [choice("warmth", "3")], by=4),
        ]},
    ]
    rows, problems = ratings_from_export(tasks, PROJECT, EMAILS, SCHEME, ROLES)
    by_annotation = {(r["annotation_id"], r["item"]): r for r in rows}
    skipped = by_annotation[("11", "")]
    assert skipped["status"] == "skipped" and skipped["value"] == ""
    assert by_annotation[("12", "warmth")]["status"] == "out_of_scale"
    assert by_annotation[("12", "warmth")]["value"] == "7"
    assert by_annotation[("12", "fluency")]["status"] == "out_of_scale"
    assert ("12", "no_such_item") not in by_annotation
    assert by_annotation[("13", "warmth")]["coder"] == "b@lab.org"
    assert by_annotation[("13", "warmth")]["role"] == ""
    text = "\n".join(map(str, problems))
    assert "'7' is outside the scale 1-5" in text and "'2.5' is not a point of the scale" in text
    assert "no_such_item" in text and "b@lab.org, who is not assigned" in text


def test_compare_ratings_tells_new_updated_and_removed_annotations():
    def table(rows):
        return pd.DataFrame(
            [{**dict.fromkeys(RATINGS_COLUMNS, ""), "annotation_id": a, "item": i, "value": v}
             for a, i, v in rows], columns=RATINGS_COLUMNS)
    old = table([("1", "warmth", "3"), ("1", "fluency", "2"), ("2", "warmth", "4"),
                 ("3", "warmth", "5")])
    new = table([("1", "warmth", "3"), ("1", "fluency", "4"), ("3", "warmth", "5"),
                 ("10", "warmth", "1")])
    changes = compare_ratings(old, new)
    assert (changes.new, changes.updated, changes.removed) == (["10"], ["1"], ["2"])
    assert not compare_ratings(new, new.iloc[::-1]).any


def test_push_parts(tmp_path):
    root = tmp_path.resolve()
    clip = root / "clips" / "a b#1.mp4"
    assert local_file_url(clip, root) == "/data/local-files/?d=clips/a%20b%231.mp4"
    with pytest.raises(PipelineError, match="outside the folder Label Studio serves"):
        local_file_url(Path("/elsewhere/x.mp4"), root)
    queue = [{"clip_id": c} for c in ("c3", "c1", "c2")]
    assert missing_tasks(queue, ["c1"]) == [{"clip_id": "c3"}, {"clip_id": "c2"}]
    record = pd.Series({"project_id": "4", "title": "b - a@lab.org",
                        "scheme_name": SCHEME.name, "scheme_version": str(SCHEME.version),
                        "scheme_hash": SCHEME.content_hash})
    path = Path("scheme.yaml")
    assert scheme_problem(record, SCHEME, path) is None
    edited = record.replace(SCHEME.content_hash, "x")
    assert f"set `version: {int(SCHEME.version) + 1}` in scheme.yaml" in scheme_problem(
        edited, SCHEME, path)
    # another version (or scheme) is no problem: that project keeps its own
    assert scheme_problem(edited.replace(str(SCHEME.version), "0"), SCHEME, path) is None
    assert push_order([("b", "m"), ("b", "t1"), ("b", "t2")], {("b", "m")}) == [
        ("b", "t1"), ("b", "t2"), ("b", "m")]


def test_pull_problems_are_summarised_one_line_per_kind():
    problems = [Problem("unreadable value", f"c{i}", "a@lab.org", "warmth", "x", f"full {i}")
                for i in range(7)]
    problems.append(Problem("value outside the scale", "c9", "b@lab.org", "fluency", "8", "f"))
    lines = summarise_problems(problems, Path("exports/p.txt"))
    assert lines[0] == ("  problem: 7 x unreadable value, e.g. " + "; ".join(
        f"clip c{i} a@lab.org item warmth value 'x'" for i in range(5)) + " ...")
    assert lines[1].startswith("  problem: 1 x value outside the scale, e.g. clip c9")
    assert lines[2] == "  every problem, one per line: exports/p.txt"
    assert summarise_problems([], None) == []


def test_status_counts_rated_skipped_and_remaining():
    assignments = pd.DataFrame({
        "batch": ["b1"] * 5, "kind": ["coding"] * 5, "clip_id": ["c1", "c2", "c3", "c1", "c4"],
        "coder": ["a@x.org"] * 3 + ["b@x.org"] * 2, "role": ["primary"] * 5,
        "order": [1, 2, 3, 1, 2],
    })
    projects = pd.DataFrame({"batch": ["b1"], "coder": ["a@x.org"], "project_id": ["9"]})
    tasks = [{"total_annotations": 1, "cancelled_annotations": 0},
             {"total_annotations": 0, "cancelled_annotations": 1},
             {"total_annotations": 0, "cancelled_annotations": 0},
             {"total_annotations": 1, "cancelled_annotations": 2}]
    assert task_progress(tasks) == (2, 1)
    table = progress_table(assignments, projects, {"9": (1, 1)})
    assert table.to_dict("records") == [
        {"batch": "b1", "coder": "a@x.org", "assigned": 3, "rated": 1, "skipped": 1,
         "remaining": 1, "project": "9"},
        {"batch": "b1", "coder": "b@x.org", "assigned": 2, "rated": 0, "skipped": 0,
         "remaining": 2, "project": "not pushed"},
    ]


@pytest.mark.parametrize("scheme_file", ["sensitivity_involvement_reciprocity.yaml",
                                         "global_sensitivity_9point.yaml"])
def test_simulated_coders_disagree_realistically(scheme_file):
    scheme = load_scheme(schemes_dir() / scheme_file)
    clips = [f"clip{i}" for i in range(60)]
    a = [simulated_ratings(scheme, c, "a@x.org", seed=1) for c in clips]
    b = [simulated_ratings(scheme, c, "b@x.org", seed=1) for c in clips]
    assert a == [simulated_ratings(scheme, c, "a@x.org", seed=1) for c in clips]  # seeded
    alphas = []
    for item in scheme.items:
        data = np.array([[r[item.id] for r in a], [r[item.id] for r in b]], dtype=float)
        assert data.min() >= item.scale.min and data.max() <= item.scale.max
        alphas.append(krippendorff.alpha(reliability_data=data, level_of_measurement="interval"))
        assert (data[0] != data[1]).any()  # coders do disagree
    assert 0.6 <= float(np.mean(alphas)) <= 0.92
    result = annotation_result(a[0], note="n")
    assert {r["from_name"] for r in result} == {*scheme.item_ids, "notes"}


def test_a_rating_changed_or_made_by_anyone_else_is_reported_and_the_coders_own_kept():
    item = SCHEME.items[0].id
    own = annotation(1, [choice(item, "4")])
    history = [("exports/20260101_project7.json", [{"id": 10, "data": {"clip_id": "c1"},
                                                     "annotations": [own]}])]
    changed = {**annotation(1, [choice(item, "1")]), "updated_by": 4,
               "updated_at": "2026-01-02T09:00:00Z"}
    forged = {**annotation(2, [choice(item, "2")]), "updated_by": 4}  # made "as a" by b
    stranger = annotation(3, [choice(item, "3")], by=4)
    edited_by_self = {**annotation(4, [choice(item, "5")]), "updated_by": 3}
    tasks = [{"id": 10, "data": {"clip_id": "c1"}, "annotations": [changed, stranger]},
             {"id": 11, "data": {"clip_id": "c2"}, "annotations": [forged, edited_by_self]}]

    foreign = foreign_annotations(tasks, PROJECT, EMAILS, ROLES)
    assert set(foreign) == {"1", "2", "3"}
    assert foreign["1"] == {"clip": "c1", "coder": "a@lab.org", "by": "b@lab.org",
                            "author": "a@lab.org", "when": "2026-01-02T09:00:00Z",
                            "created": False}
    rows, _ = ratings_from_export(tasks, PROJECT, EMAILS, SCHEME, ROLES)
    kept, problems = keep_coders_own(rows, foreign, history, PROJECT, EMAILS, SCHEME, ROLES)
    values = {(r["annotation_id"], r["item"]): r["value"] for r in kept}
    assert values == {("1", item): "4", ("4", item): "5"}  # a's own; nothing of b's
    texts = {str(p).split("(annotation ")[1][0]: str(p) for p in problems}
    assert len(texts) == 3 and all(p.kind.startswith("rating changed by someone") for p in problems)
    assert ("b@lab.org changed a@lab.org's rating (annotation 1) at 2026-01-02T09:00:00Z"
            in texts["1"] and "own last version from exports/20260101_project7.json" in texts["1"])
    assert "b@lab.org changed a@lab.org's rating (annotation 2)" in texts["2"]
    assert "has no rating of it by a@lab.org" in texts["2"]
    assert "b@lab.org created a@lab.org's rating (annotation 3)" in texts["3"]
    # a consensus coder assigned the clip may write in the project
    consensus = {**ROLES, ("batch-01", "c1", "b@lab.org"): "consensus"}
    assert "3" not in foreign_annotations(tasks, PROJECT, EMAILS, consensus)


def test_a_rating_made_in_someone_elses_name_names_the_account_that_sent_it():
    # Label Studio stores completed_by as sent, and updated_by as the account that sent it
    item = SCHEME.items[0].id
    forged_by_coder = {**annotation(5, [choice(item, "2")], by=4), "updated_by": 3}
    forged_by_admin = {**annotation(6, [choice(item, "3")], by=4), "updated_by": 9}
    tasks = [{"id": 12, "data": {"clip_id": "c2"},
              "annotations": [forged_by_coder, forged_by_admin]}]
    emails = {**EMAILS, 9: "admin@lab.org"}
    foreign = foreign_annotations(tasks, PROJECT, emails, ROLES)
    assert foreign["5"]["by"] == "a@lab.org" and foreign["5"]["author"] == "b@lab.org"
    assert foreign["6"]["by"] == "admin@lab.org"
    rows, _ = ratings_from_export(tasks, PROJECT, emails, SCHEME, ROLES)
    kept, problems = keep_coders_own(rows, foreign, [], PROJECT, emails, SCHEME, ROLES)
    assert kept == []
    texts = {str(p).split("(annotation ")[1][0]: str(p) for p in problems}
    assert ("a@lab.org made or changed a rating in a@lab.org's project in the name of "
            "b@lab.org (annotation 5)") in texts["5"]
    assert "b@lab.org created" not in texts["5"]  # not the account named, the one that sent it
    assert texts["6"].startswith("project 7, clip c2: admin@lab.org made or changed a rating")


def test_ratings_of_annotations_and_projects_gone_from_the_server_are_carried_over():
    old = pd.DataFrame([
        {"annotation_id": "1", "project": "7"}, {"annotation_id": "2", "project": "7"},
        {"annotation_id": "3", "project": "8"}, {"annotation_id": "4", "project": "9"},
    ])
    kept = carried_over(old, on_server={"1"}, project_ids={"7", "8"})
    assert list(kept["annotation_id"]) == ["2", "3"]  # project 9 left projects.csv on purpose
