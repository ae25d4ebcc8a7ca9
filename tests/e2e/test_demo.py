"""The demo end to end, as issue 2's 'done when' states it, against its own real server."""

from contextlib import closing

import pandas as pd
import pytest

from coding_pipeline import batches
from coding_pipeline.demo import DEMO_CODER, SIMULATED_CODERS, demo_coder_path, run_demo
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.coders import coder_session, list_members
from coding_pipeline.labelstudio.server import log_path, read_credentials, stop_server
from coding_pipeline.labelstudio.spaces import in_space
from coding_pipeline.study import load_study, read_clips, read_transcript_key

pytestmark = [pytest.mark.labelstudio, pytest.mark.video]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "demo-study"
    lines: list[str] = []
    status = run_demo(root, echo=lines.append, seconds=(35, 50))
    study = load_study(root)
    yield study, status, "\n".join(lines)
    stop_server(study)


def test_demo_runs_every_stage(demo):
    study, status, output = demo
    assert status == 0, output
    assert "SIMULATED" in output
    assert (study.scores_dir / "dyad_scores.csv").is_file()
    assert (study.root / "report.html").is_file()
    assert "Label Studio is still running at http://127.0.0.1:" in output


def test_server_holds_one_task_per_clip_and_two_coders_annotations(demo):
    study, _, _ = demo
    connection = connect(study)
    clips = read_clips(study)
    projects = pd.read_csv(study.root / "projects.csv", dtype=str, keep_default_na=False)
    interviews = {p.name for p in batches.load_batches(study) if batches.is_interview_batch(p)}
    projects = projects[~projects["batch"].isin(interviews)]  # the clips' projects
    emails = {m.id: m.email for m in list_members(connection, study)}
    served = []  # (coder of the project, clip_id, annotator)
    tasks_of = {}  # coder -> clip ids of their tasks
    for _, project in projects.iterrows():
        client = in_space(connection, project["space"]).client
        for task in client.tasks.list(project=int(project["project_id"]), fields="all"):
            served += [(project["coder"], task.data["clip_id"], emails[a["completed_by"]])
                       for a in task.annotations]
            tasks_of.setdefault(project["coder"], []).append(task.data["clip_id"])
            assert set(task.data) == {"video", "clip_id", "fps"}
    held_back = set(tasks_of[DEMO_CODER])
    assert 1 <= len(held_back) <= 3 and held_back <= set(clips["clip_id"])
    assert {clip for _, clip, _ in served} == set(clips["clip_id"]) - held_back
    assert all(coder == annotator for coder, _, annotator in served)
    assert {annotator for _, _, annotator in served} == set(SIMULATED_CODERS)
    assert len(served) == 2 * (len(clips) - len(held_back))  # double-coded, once per coder

    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    rated = ratings[(ratings["status"] == "rated") & ratings["clip_id"].isin(clips["clip_id"])]
    assert set(zip(rated["clip_id"], rated["coder"], strict=True)) == {
        (clip, annotator) for _, clip, annotator in served}


def test_the_demo_codes_its_interviews_blind_with_the_simulated_coders(demo):
    """Generated transcripts (one .docx) read, de-identified, double-coded by the SIMULATED
    coders in their own interview projects; not codable pulled as missing."""
    study, _, output = demo
    key = read_transcript_key(study)
    assert len(key) == 8 and {k[-5:] for k in key["source"]} >= {".docx"}
    assert "Interviews (reflective functioning), each interview a unit:" in output
    assert (study.reliability_dir / "interviews" / "reliability.json").is_file()
    rf = pd.read_csv(study.scores_dir / "interview_scores.csv", dtype=str)
    assert len(rf) == len(key)  # every interview scored, one row per dyad x timepoint
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    mine = ratings[ratings["clip_id"].isin(key["transcript_id"])]
    assert set(mine["clip_id"]) == set(key["transcript_id"])
    assert set(mine["coder"]) == set(SIMULATED_CODERS)
    assert set(mine.loc[mine["status"] == "not_codable", "value"]) <= {""}
    assert mine.loc[mine["status"] == "rated", "value"].astype(int).between(-1, 9).all()
    assert "overall" in set(mine["item"])


def test_the_demo_ends_with_a_real_coder_seat(demo):
    """The person running it gets a DEMO-ONLY login to a project of unrated clips of their own,
    sees nothing else, and the closing lines name the commands that show their ratings."""
    study, _, output = demo
    credentials = read_credentials(study)
    assert "DEMO ONLY" in output and f"login:    {DEMO_CODER}" in output
    password = next(line.split()[1] for line in output.splitlines()
                    if line.strip().startswith("password: "))
    assert output.count(password) == 1
    with closing(coder_session(credentials.url, DEMO_CODER, password)) as seat:
        projects = seat.get("/api/projects/").json()["results"]
        assert len(projects) == 1 and projects[0]["title"].endswith(DEMO_CODER)
        tasks = seat.get("/api/tasks/", params={"project": projects[0]["id"], "fields": "all"}
                         ).json()["tasks"]
        assert tasks and not any(t["annotations"] for t in tasks)
        video = seat.get(tasks[0]["data"]["video"])
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert f"pull {study.root}" in output and f"reliability {study.root}" in output
    assert demo_coder_path(study).stat().st_mode & 0o077 == 0


def test_no_secret_in_output_logs_or_study_files(demo):
    study, _, output = demo
    credentials = read_credentials(study)
    secrets = [credentials.token, credentials.password]
    assert not any(secret in output for secret in secrets)
    assert not any(secret in log_path(study).read_text(errors="replace") for secret in secrets)
    for path in study.root.rglob("*"):
        if path.is_file() and study.server_dir not in path.parents:
            data = path.read_bytes()
            assert not any(secret.encode() in data for secret in secrets), path
