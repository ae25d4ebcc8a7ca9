"""The study's own server's quick export (what `pull` reads there) against Label Studio's own
JSON export of the same projects: the same tasks and the same annotations, field by field."""

from __future__ import annotations

import json
from contextlib import closing

import httpx
import pandas as pd
import pytest
from label_studio_sdk import LabelStudio
from test_ls_push_pull import new_coders

from coding_pipeline import batches
from coding_pipeline.labelstudio import projects as ls_projects
from coding_pipeline.labelstudio.pull import FOREIGN_KIND, pull_study
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.labelstudio.simulate import simulate_coders

pytestmark = pytest.mark.labelstudio

TASK_KEYS = ("id", "data", "meta", "created_at", "updated_at", "inner_id", "project",
             "predictions")
CHANGING = ("created_ago", "created_username")  # "0 minutes" ago: texts for people, left out


def stock_export(client: LabelStudio, project_id: int) -> list[dict]:
    return json.loads(b"".join(client.projects.exports.download_sync(
        project_id, export_type="JSON", download_all_tasks=True)))


def quick_export(url: str, token: str, project_id: int) -> httpx.Response:
    return httpx.get(f"{url}/{ls_projects.QUICK_EXPORT_PATH.format(project_id)}",
                     headers={"Authorization": f"Token {token}"}, timeout=60)


@pytest.fixture
def rated_study(tmp_path, label_studio, make_ls_study):
    """Two coders' projects, rated; then one rating changed by the admin, one task skipped by
    the admin, and a draft left on another task: every kind of record pull has to read."""
    study = make_ls_study(tmp_path / "quick")
    coders = new_coders()
    batches.create_batch(study, coders, reliability_share=0.5, seed=4)
    push_study(study)
    simulate_coders(study, coders, seed=5)
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    project_id = int(read_projects(study).iloc[0]["project_id"])
    first, second, third = stock_export(client, project_id)[:3]
    changed = first["annotations"][0]
    client.annotations.update(id=changed["id"], result=changed["result"][:1])
    client.annotations.create(id=second["id"], result=[], was_cancelled=True)
    admin = httpx.Client(base_url=label_studio.url, timeout=60,
                         headers={"Authorization": f"Token {label_studio.token}"})
    with admin:
        made = admin.post(f"/api/tasks/{third['id']}/drafts",
                          json={"result": changed["result"][:2], "lead_time": 3.0})
    assert made.status_code == 201, made.text
    return study, coders


def test_the_quick_export_holds_what_label_studios_export_holds(label_studio, rated_study):
    study, _ = rated_study
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    annotations, drafts = [], []
    for project_id in map(int, read_projects(study)["project_id"]):
        response = quick_export(label_studio.url, label_studio.token, project_id)
        assert response.status_code == 200
        assert response.headers[ls_projects.QUICK_EXPORT_HEADER] == "1"
        quick = response.json()
        stock = {task["id"]: task for task in stock_export(client, project_id)}
        assert [task["id"] for task in quick] == sorted(stock)
        for task in quick:
            theirs = stock[task["id"]]
            for key in TASK_KEYS:
                assert task[key] == theirs[key], (task["id"], key)
            assert task["drafts"] == [{k: v for k, v in d.items() if k not in CHANGING}
                                      for d in theirs["drafts"]]
            expected = sorted(({k: v for k, v in a.items() if k != "state"}
                               for a in theirs["annotations"]), key=lambda a: a["id"])
            assert task["annotations"] == expected
            annotations += task["annotations"]
            drafts += task["drafts"]
    assert drafts and any(a["updated_by"] for a in annotations)
    assert any(a["was_cancelled"] for a in annotations)


def test_pull_reads_the_same_ratings_from_either_export(label_studio, rated_study, monkeypatch):
    study, _ = rated_study
    first = pull_study(study)
    assert first.annotations > 0
    assert len([p for p in first.problems if p.kind == FOREIGN_KIND]) == 2  # change, skip
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    monkeypatch.setattr(ls_projects, "QUICK_EXPORT_PATH", "coding-pipeline/api/no-such/{}/")
    again = pull_study(study)  # Label Studio's own export this time
    assert not again.changes.any, again.changes
    pd.testing.assert_frame_equal(
        pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False), ratings)


def test_a_coder_cannot_use_the_quick_export(label_studio, rated_study, simulated_session):
    study, coders = rated_study
    projects = read_projects(study)
    for coder in coders:
        with closing(simulated_session(study, label_studio.url, coder)) as session:
            for project_id in projects["project_id"]:
                answer = session.get(f"/{ls_projects.QUICK_EXPORT_PATH.format(project_id)}")
                assert answer.status_code == 403  # not on the coders' allow-list
                assert "annotations" not in answer.text
