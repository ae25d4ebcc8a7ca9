"""The demo end to end, as issue 2's 'done when' states it, against its own real server."""

import pandas as pd
import pytest

from coding_pipeline.demo import SIMULATED_CODERS, run_demo
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.server import log_path, read_credentials, stop_server
from coding_pipeline.study import load_study, read_clips

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
    client = connection.client
    clips = read_clips(study)
    projects = pd.read_csv(study.root / "projects.csv", dtype=str)
    emails = {u.id: u.email for u in client.users.list()}
    served = []  # (coder of the project, clip_id, annotator)
    for _, project in projects.iterrows():
        for task in client.tasks.list(project=int(project["project_id"]), fields="all"):
            served += [(project["coder"], task.data["clip_id"], emails[a["completed_by"]])
                       for a in task.annotations]
            assert set(task.data) == {"video", "clip_id", "fps"}
    assert {clip for _, clip, _ in served} == set(clips["clip_id"])
    assert all(coder == annotator for coder, _, annotator in served)
    assert {annotator for _, _, annotator in served} == set(SIMULATED_CODERS)
    assert len(served) == 2 * len(clips)  # every clip double-coded, once per coder

    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    rated = ratings[ratings["status"] == "rated"]
    assert set(zip(rated["clip_id"], rated["coder"], strict=True)) == {
        (clip, annotator) for _, clip, annotator in served}


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
