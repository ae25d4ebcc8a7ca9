"""Push, simulated coding and pull against the session's real Label Studio."""

from __future__ import annotations

import hashlib
import secrets
from contextlib import closing

import pandas as pd
import pytest
from label_studio_sdk import LabelStudio

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.pull import RATINGS_COLUMNS, pull_study
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.labelstudio.simulate import simulate_coders, simulated_ratings
from coding_pipeline.scheme import load_scheme
from coding_pipeline.study import read_clips

pytestmark = pytest.mark.labelstudio


def new_coders(n: int = 2) -> list[str]:
    tag = secrets.token_hex(3)
    return [f"sim-{chr(97 + i)}-{tag}@example.org" for i in range(n)]


def snapshot(study) -> dict[str, str]:
    """Every file of the study (but the server's folder) -> hash of its content."""
    files = [p for p in study.root.rglob("*") if p.is_file() and ".labelstudio" not in p.parts]
    return {str(p.relative_to(study.root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files}


def admin(label_studio) -> LabelStudio:
    return LabelStudio(base_url=label_studio.url, api_key=label_studio.token)


def tasks_of(client: LabelStudio, project_id: int) -> list:
    return list(client.tasks.list(project=project_id, fields="all"))


def test_push_creates_one_project_per_coder_with_their_queue_and_is_idempotent(
        ls_study, label_studio):
    coders = new_coders()
    plan = batches.create_batch(ls_study, coders, reliability_share=0.5, seed=3)
    report = push_study(ls_study)
    assert report.projects_created == 2
    assert report.tasks_imported == len(plan.assignments)

    client = admin(label_studio)
    projects = read_projects(ls_study)
    assert sorted(projects["coder"]) == sorted(coders)
    scheme = load_scheme(ls_study.scheme_path)
    for record in projects.itertuples():
        project = client.projects.get(id=int(record.project_id))
        assert project.title == f"{plan.name} - {record.coder}"
        assert record.scheme_hash == scheme.content_hash
        queue = plan.assignments[plan.assignments["coder"] == record.coder].sort_values("order")
        tasks = sorted(tasks_of(client, int(record.project_id)), key=lambda t: t.id)
        assert [t.data["clip_id"] for t in tasks] == list(queue["clip_id"])
        assert all(set(t.data) == {"video", "clip_id", "fps"} for t in tasks)
        assert all(t.data["video"].startswith("/data/local-files/?d=") for t in tasks)

    again = push_study(ls_study)
    assert (again.projects_created, again.tasks_imported) == (0, 0)
    assert again.tasks_existing == len(plan.assignments)
    for record in projects.itertuples():
        clip_ids = [t.data["clip_id"] for t in tasks_of(client, int(record.project_id))]
        assert len(clip_ids) == len(set(clip_ids))


def test_push_after_a_failure_part_way_imports_only_what_is_missing(ls_study, label_studio):
    coders = new_coders()
    plan = batches.create_batch(ls_study, coders, reliability_share=0.0, seed=1)
    push_study(ls_study)
    client = admin(label_studio)
    record = read_projects(ls_study).iloc[0]
    tasks = tasks_of(client, int(record["project_id"]))
    for task in tasks[1:]:  # as if the import had stopped after the first task
        client.tasks.delete(id=task.id)
    # and as if the crash came before projects.csv recorded the second project
    projects = read_projects(ls_study)
    projects.iloc[:1].to_csv(ls_study.root / "projects.csv", index=False)

    report = push_study(ls_study)
    assert report.projects_created == 0 and report.projects_existing == 2
    assert report.tasks_imported == len(tasks) - 1
    projects = read_projects(ls_study)
    for coder in coders:
        row = projects[projects["coder"] == coder].iloc[0]
        clip_ids = [t.data["clip_id"] for t in tasks_of(client, int(row["project_id"]))]
        expected = plan.assignments[plan.assignments["coder"] == coder]["clip_id"]
        assert sorted(clip_ids) == sorted(expected)


def test_simulated_coders_then_pull_matches_the_server(ls_study, label_studio):
    coders = new_coders()
    batches.create_batch(ls_study, coders, reliability_share=1.0, seed=5)
    push_study(ls_study)
    made = simulate_coders(ls_study, coders, seed=2)
    assert made == 12  # 6 clips x 2 coders
    assert simulate_coders(ls_study, coders, seed=2) == 0  # nothing left to rate

    report = pull_study(ls_study)
    assert (report.new, report.updated, report.removed) == (12, 0, 0)
    ratings = pd.read_csv(ls_study.ratings_csv, dtype=str, keep_default_na=False)
    assert list(ratings.columns) == RATINGS_COLUMNS
    scheme = load_scheme(ls_study.scheme_path)
    assert len(ratings) == 12 * len(scheme.items)
    assert set(ratings["coder"]) == set(coders)
    assert set(ratings["status"]) == {"rated"}
    assert set(ratings["role"]) == {"primary", "reliability"}
    assert set(ratings["scheme_version"]) == {str(scheme.version)}

    # every value in ratings.csv is the one on the server, and vice versa
    client = admin(label_studio)
    emails = {u.id: u.email for u in client.users.list()}
    on_server = set()
    for project_id in read_projects(ls_study)["project_id"]:
        for task in tasks_of(client, int(project_id)):
            for annotation in task.annotations:
                for result in annotation["result"]:
                    if result["from_name"] in scheme.item_ids:
                        on_server.add((task.data["clip_id"], emails[annotation["completed_by"]],
                                       result["from_name"], result["value"]["choices"][0],
                                       str(annotation["id"])))
    in_file = set(ratings[["clip_id", "coder", "item", "value", "annotation_id"]]
                  .itertuples(index=False, name=None))
    assert in_file == on_server

    before = snapshot(ls_study)
    quiet = pull_study(ls_study)
    assert (quiet.new, quiet.updated, quiet.removed) == (0, 0, 0)
    assert not quiet.ratings_written and not quiet.exports_saved
    assert snapshot(ls_study) == before


def test_pull_reports_edits_deletions_skips_and_out_of_scale_values(
        ls_study, label_studio, simulated_session):
    coders = new_coders()
    batches.create_batch(ls_study, coders, reliability_share=0.0, seed=8)
    push_study(ls_study)
    simulate_coders(ls_study, coders, seed=4)
    pull_study(ls_study)
    first_exports = sorted(p.name for p in ls_study.exports_dir.iterdir())
    client = admin(label_studio)
    project_ids = [int(p) for p in read_projects(ls_study)["project_id"]]
    tasks = [t for pid in project_ids for t in tasks_of(client, pid)]
    edited, deleted, skipped_task, odd_task = tasks[0], tasks[1], tasks[2], tasks[3]
    authors = {task.id: record["coder"] for _, record in read_projects(ls_study).iterrows()
               for task in tasks_of(client, int(record["project_id"]))}

    def own(task):  # the session of the coder whose task it is: their own changes
        return closing(simulated_session(ls_study, label_studio.url, authors[task.id]))

    result = [dict(r) for r in edited.annotations[0]["result"]]
    old_value = result[0]["value"]["choices"][0]
    new_value = "1" if old_value != "1" else "5"
    result[0]["value"] = {"choices": [new_value]}
    with own(edited) as coder:
        coder.patch(f"/api/annotations/{edited.annotations[0]['id']}/", json={"result": result})
    client.annotations.delete(id=deleted.annotations[0]["id"])
    client.annotations.delete(id=skipped_task.annotations[0]["id"])
    with own(skipped_task) as coder:
        coder.post(f"/api/tasks/{skipped_task.id}/annotations/",
                   json={"result": [], "was_cancelled": True})
    odd = [dict(r) for r in odd_task.annotations[0]["result"]]
    odd[1]["value"] = {"choices": ["9"]}
    with own(odd_task) as coder:
        coder.patch(f"/api/annotations/{odd_task.annotations[0]['id']}/", json={"result": odd})

    report = pull_study(ls_study)
    assert report.new == 1  # the skip
    assert report.updated == 2  # the edit and the out-of-scale value
    assert report.removed == 2  # the deleted annotation and the one replaced by a skip
    assert not [p for p in report.problems if "someone other" in p.kind]
    assert any("outside the scale" in str(p) for p in report.problems)
    ratings = pd.read_csv(ls_study.ratings_csv, dtype=str, keep_default_na=False)
    edited_rows = ratings[(ratings["annotation_id"] == str(edited.annotations[0]["id"]))
                          & (ratings["item"] == result[0]["from_name"])]
    assert list(edited_rows["value"]) == [new_value]
    # deleted on the server, but nothing pulled before is lost
    assert str(deleted.annotations[0]["id"]) in set(ratings["annotation_id"])
    assert any("no longer on the server" in str(p) for p in report.problems)
    skips = ratings[ratings["status"] == "skipped"]
    assert len(skips) == 1 and skips.iloc[0]["clip_id"] == skipped_task.data["clip_id"]
    assert skips.iloc[0]["item"] == "" and skips.iloc[0]["value"] == ""
    odd_rows = ratings[ratings["status"] == "out_of_scale"]
    assert list(odd_rows["value"]) == ["9"]
    # the raw exports are kept: the old ones untouched, new ones beside them
    now = sorted(p.name for p in ls_study.exports_dir.iterdir())
    assert set(first_exports) < set(now)
    assert "Removed" not in str(report) and "removed on the server" in str(report)


def test_a_failed_pull_leaves_every_file_as_it_was(ls_study, label_studio, monkeypatch):
    coders = new_coders()
    batches.create_batch(ls_study, coders, reliability_share=0.0, seed=2)
    push_study(ls_study)
    simulate_coders(ls_study, coders, seed=1)
    pull_study(ls_study)
    client = admin(label_studio)
    first = read_projects(ls_study).iloc[0]
    task = tasks_of(client, int(first["project_id"]))[0]
    client.annotations.delete(id=task.annotations[0]["id"])  # a change a good pull would see
    before = snapshot(ls_study)

    with pytest.raises(PipelineError, match="http://127.0.0.1:9"):
        pull_study(ls_study, url="http://127.0.0.1:9")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "not-a-valid-token")
    with pytest.raises(PipelineError, match="refused the API token"):
        pull_study(ls_study)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    assert snapshot(ls_study) == before

    # a project deleted on the server: nothing pulled from it before is lost
    kept = pd.read_csv(ls_study.ratings_csv, dtype=str, keep_default_na=False)
    second = read_projects(ls_study).iloc[1]
    kept = kept[kept["project"] == second["project_id"]]
    client.projects.delete(id=int(second["project_id"]))
    report = pull_study(ls_study)
    assert any("not on" in str(p) and "are kept" in str(p) for p in report.problems)
    after = pd.read_csv(ls_study.ratings_csv, dtype=str, keep_default_na=False)
    assert not kept.empty and kept.merge(after).shape[0] == len(kept)


def test_push_refuses_a_changed_scheme_and_a_missing_clip(ls_study):
    coders = new_coders()
    batches.create_batch(ls_study, coders, reliability_share=0.0, seed=2)
    push_study(ls_study)
    text = ls_study.scheme_path.read_text(encoding="utf-8")
    ls_study.scheme_path.write_text(text.replace("Warmth and positive affect", "Warmth"),
                                    encoding="utf-8")
    with pytest.raises(PipelineError, match="Push refused: .*version 1"):
        push_study(ls_study)
    ls_study.scheme_path.write_text(text, encoding="utf-8")

    clip = next(ls_study.clips_dir.glob("*.mp4"))
    clip.unlink()
    with pytest.raises(PipelineError, match=f"clips/{clip.name} is missing"):
        push_study(ls_study)


def test_push_without_a_batch_says_what_to_do(ls_study):
    with pytest.raises(PipelineError, match="batch create"):
        push_study(ls_study)


def test_a_personal_access_token_works_as_well_as_a_legacy_token(ls_study, label_studio,
                                                                 monkeypatch):
    from contextlib import closing

    from coding_pipeline.labelstudio.coders import coder_session

    with closing(coder_session(label_studio.url, label_studio.email, label_studio.password)) as s:
        response = s.post("/api/token/")
    assert response.status_code == 201
    personal = response.json()["token"]
    assert personal != label_studio.token
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", personal)
    batches.create_batch(ls_study, new_coders(1), reliability_share=0.0, seed=1)
    assert push_study(ls_study).tasks_imported == 6
    assert pull_study(ls_study).annotations == 0
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", personal[:-4] + "xxxx")
    with pytest.raises(PipelineError, match="refused the API token"):
        push_study(ls_study)


def test_the_differently_shaped_scheme_round_trips_through_the_server(
        tmp_path, label_studio, make_ls_study):
    study = make_ls_study(tmp_path / "nine", scheme="global_sensitivity_9point.yaml")
    coders = new_coders()
    batches.create_batch(study, coders, reliability_share=1.0, seed=6)
    push_study(study)
    project_id = int(read_projects(study).iloc[0]["project_id"])
    config = admin(label_studio).projects.get(id=project_id).label_config
    assert 'name="global_sensitivity"' in config and 'alias="9"' in config
    simulate_coders(study, coders, seed=3)
    pull_study(study)
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    scheme = load_scheme(study.scheme_path)
    assert len(ratings) == 12 * 3 and set(ratings["status"]) == {"rated"}
    for item in scheme.items:
        values = ratings.loc[ratings["item"] == item.id, "value"].astype(int)
        assert values.between(item.scale.min, item.scale.max).all()
    # Every value arrives exactly as the coder submitted it, on the 9-point scale.
    dyads = read_clips(study).set_index("clip_id")["dyad_id"]
    for row in ratings.itertuples():
        sent = simulated_ratings(scheme, row.clip_id, row.coder, seed=3,
                                 dyad=dyads[row.clip_id])[row.item]
        assert int(row.value) == sent, row
