"""Interviews on the study's OWN server: an interview batch pushed (one task per interview,
nothing naming a family), each coder sees only her own interview project, a transcript still
holding a redact term is refused, pull writes the interview rows ("not codable" as an empty
value, status not_codable) with the same tamper evidence as clips, and a consensus batch of the
disagreeing interviews is pushed (the coders' ratings shown), rated, pulled and scored."""

from __future__ import annotations

import secrets

import pandas as pd
import pytest
from click.testing import CliRunner
from interview_study import DYADS, sign_up, write_interviews

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.pull import pull_study
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.labelstudio.server import start_server, stop_server
from coding_pipeline.labelstudio.simulate import annotation_result
from coding_pipeline.labelstudio.spaces import in_space
from coding_pipeline.scores import score_study
from coding_pipeline.study import load_study, read_transcript_key

pytestmark = pytest.mark.labelstudio

TAG = secrets.token_hex(3)
CODER_A, CODER_B = (f"{who}-{TAG}@example.org" for who in ("a", "b"))


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LABEL_STUDIO_API_KEY", raising=False)
        patch.delenv("LABEL_STUDIO_URL", raising=False)
        study = write_interviews(tmp_path_factory.mktemp("rf") / "trialfolderxq")
        start_server(study)
        try:
            sessions, _ = sign_up(study, [CODER_A, CODER_B])
            batches.create_batch(study, [CODER_A, CODER_B], reliability_share=0.5, seed=2,
                                 interviews=True)
            report = push_study(study)
            yield study, sessions, report
            for session in sessions.values():
                session.close()
        finally:
            stop_server(study)


def _my_tasks(session) -> tuple[list[dict], list[dict]]:
    projects = session.get("/api/projects/").json()["results"]
    tasks = [t for p in projects for t in session.get(
        "/api/tasks/", params={"project": p["id"], "fields": "all"}).json()["tasks"]]
    return projects, tasks


def test_each_coder_sees_only_her_own_interview_project_with_blind_tasks(pushed):
    study, sessions, report = pushed
    key = read_transcript_key(study)
    assignments = batches.load_assignments(study)
    assert report.tasks_imported == len(assignments) and report.clips_uploaded == 0
    for coder, session in sessions.items():
        projects, tasks = _my_tasks(session)
        assert [p["title"] for p in projects] == [f"batch-01 - {coder}"]
        mine = assignments[assignments["coder"] == coder].sort_values("order")
        assert sorted(t["data"]["clip_id"] for t in tasks) == sorted(mine["clip_id"])
        for task in tasks:
            shown = str(task["data"])
            assert "transcript" in task["data"] and "where_overall" in task["data"]
            for leak in ("FAMQZ", "TPQZ", "ARMQZ", "SRCQZ", "raw/", ".docx", ".txt"):
                assert leak not in shown
        assert not set(key["transcript_id"]) - set(assignments["clip_id"])
    again = push_study(study)
    assert again.tasks_imported == 0 and again.projects_created == 0


def test_a_transcript_still_holding_a_redact_term_is_refused(pushed):
    study, _, _ = pushed
    before = study.redact_csv.read_text(encoding="utf-8")
    dyad = next(iter(DYADS))
    try:
        with open(study.redact_csv, "a", encoding="utf-8") as handle:
            handle.write(f"{dyad},daycare,[PLACE]\n")
        with pytest.raises(PipelineError, match=r"Push refused: interview t[0-9a-f]{12} still "
                                                r"contains 'daycare'"):
            push_study(study)
    finally:
        study.redact_csv.write_text(before, encoding="utf-8")


def test_pull_writes_interview_rows_not_codable_as_empty_and_flags_tampering(pushed):
    study, sessions, _ = pushed
    for session in sessions.values():
        _, tasks = _my_tasks(session)
        for number, task in enumerate(tasks):
            ratings = {"clicked": "not codable" if number == 0 else "5", "anger": "3",
                       "overall": str(number % 9)}
            response = session.post(f"/api/tasks/{task['id']}/annotations/", json={
                "result": annotation_result(ratings, "a note", "transcript"), "lead_time": 90})
            assert response.status_code == 201, response.text
    report = pull_study(study)
    assert report.problems == []
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    assignments = batches.load_assignments(study)
    assert len(ratings) == 3 * len(assignments)
    not_codable = ratings[ratings["status"] == "not_codable"]
    assert len(not_codable) == 2 and set(not_codable["item"]) == {"clicked"}
    assert set(not_codable["value"]) == {""}
    rated = ratings[ratings["status"] == "rated"]
    assert rated["value"].astype(int).between(-1, 9).all()
    assert set(ratings["scheme_version"]) == {"1"} and set(ratings["notes"]) == {"a note"}
    assert set(ratings["role"]) == {"primary", "reliability"}

    # the admin changes coder A's rating: reported, and not taken as hers
    connection = connect(study)
    record = read_projects(study).set_index("coder").loc[CODER_A]
    admin = in_space(connection, record["space"])
    task = next(iter(admin.client.tasks.list(project=int(record["project_id"]), fields="all")))
    annotation = task.annotations[0]
    changed = annotation_result({"clicked": "9", "anger": "9", "overall": "9"}, "", "transcript")
    admin.client.annotations.update(id=annotation["id"], result=changed)
    tampered = pull_study(study)
    assert "CHANGED BY SOMEONE ELSE" in str(tampered)
    after = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    theirs = after[after["annotation_id"] == str(annotation["id"])]
    assert "9" not in set(theirs.loc[theirs["item"] == "anger", "value"])


def test_consensus_on_interviews_is_pushed_rated_and_pulled(pushed):
    study, sessions, _ = pushed
    before = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    independent = before[before["role"].isin(["primary", "reliability"])
                         & (before["status"] == "rated")]
    spread = independent.assign(value=independent["value"].astype(int)).groupby(
        ["clip_id", "item"])["value"].agg(lambda v: v.max() - v.min())
    expected = sorted(set(spread[spread > 0].index.get_level_values("clip_id")))
    assert expected, "the coders' ratings above should disagree on some interview"
    made = CliRunner().invoke(cli, ["consensus", "create", str(study.root), "--interviews",
                                    "--threshold", "0", "--coders", CODER_A, "--seed", "1"])
    assert made.exit_code == 0, made.output
    assert "interviews: " in made.output
    (plan,) = [p for p in batches.load_batches(study) if p.kind == "consensus"]
    assert batches.is_interview_batch(plan)
    assert sorted(e["clip_id"] for e in plan.extra["disagreements"]) == expected

    report = push_study(study)
    assert report.projects_created == 1 and report.tasks_imported == len(expected)
    projects, tasks = _my_tasks(sessions[CODER_A])
    consensus_project = next(p for p in projects if p["title"] == f"{plan.name} - {CODER_A}")
    assert "$shown_overall" in consensus_project["label_config"]
    tasks = [t for t in tasks if t["project"] == consensus_project["id"]]
    assert sorted(t["data"]["clip_id"] for t in tasks) == expected
    for task in tasks:
        assert task["data"]["shown_overall"].startswith("Coder 1 / Coder 2: ")
        assert task["data"]["shown_summary"].startswith("Disagreement on: ")
        assert "transcript" in task["data"] and CODER_B not in str(task["data"])
        response = sessions[CODER_A].post(f"/api/tasks/{task['id']}/annotations/", json={
            "result": annotation_result({"clicked": "6", "anger": "6", "overall": "-1"},
                                        "agreed", "transcript"), "lead_time": 30})
        assert response.status_code == 201, response.text
    pull_study(study)
    after = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    agreed = after[after["role"] == "consensus"]
    assert sorted(set(agreed["clip_id"])) == expected and set(agreed["batch"]) == {plan.name}
    assert set(agreed.loc[agreed["item"] == "overall", "value"]) == {"-1"}

    toml = study.toml_path.read_text(encoding="utf-8")
    study.toml_path.write_text(toml.replace('clip_policy = "primary"',
                                            'clip_policy = "consensus"'), encoding="utf-8")
    score_study(load_study(study.root))
    scores = pd.read_csv(study.root / "scores" / "interview_scores.csv", dtype=str,
                         keep_default_na=False).set_index("transcript_id")
    # the overall RF is the agreed -1 (the coders rated 0..8); composites the consensus
    # coder did not rate enough items of fall back to the coders' mean
    assert set(scores.loc[expected, "rf_overall"].astype(float)) == {-1.0}
    assert scores.loc[expected, "source"].str.contains("consensus").all()
    single = scores.drop(index=expected)
    assert not single.empty and not single["source"].str.contains("consensus").any()
