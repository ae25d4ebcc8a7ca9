"""Any Label Studio as it comes: push uploads the clips into a server started with its defaults
(no local-files serving, no S3), blinded and idempotent, pull reads the ratings back, a coder's
browser plays an uploaded clip, and the server's refusals become one sentence."""

from __future__ import annotations

import json
import re
import secrets
from contextlib import closing
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import ARMS, DYADS, TIMEPOINTS, make_study
from label_studio_sdk import LabelStudio
from test_ls_browser import CHROMIUM

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio import transport as transport_module
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.coders import coder_session, invite_link, list_members
from coding_pipeline.labelstudio.projects import export_project_raw, read_projects
from coding_pipeline.labelstudio.pull import pull_study
from coding_pipeline.labelstudio.push import push_study
from coding_pipeline.labelstudio.simulate import (
    annotation_result,
    simulate_coders,
    simulated_ratings,
)
from coding_pipeline.scheme import load_scheme
from coding_pipeline.study import load_study, read_clips, write_text_atomic

pytestmark = pytest.mark.labelstudio



@pytest.fixture
def plain_study(tmp_path, default_label_studio, clip_bank, monkeypatch):
    """A study pointed at the default-configured server, with no document_root and no S3."""
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", default_label_studio.token)
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", raising=False)
    return make_study(tmp_path / "study", default_label_studio, clip_bank, n_clips=4)


def uploads_of(client: LabelStudio, project_id: int) -> list[str]:
    return [str(f.file) for f in client.files.list(id=project_id, all_=True)]


def test_push_uploads_blinded_clips_once_finds_them_after_an_interruption_and_pull_works(
        plain_study, default_label_studio, monkeypatch):
    coders = [f"up-{c}-{secrets.token_hex(3)}@example.org" for c in "ab"]
    plan = batches.create_batch(plain_study, coders, reliability_share=1.0, seed=4)

    real_upload = transport_module.upload_clips
    calls = []

    def upload_then_stop(*args, **kwargs):  # the first project's clips go up, then it stops
        calls.append(real_upload(*args, **kwargs))
        raise PipelineError("interrupted on purpose")

    monkeypatch.setattr(transport_module, "upload_clips", upload_then_stop)
    with pytest.raises(PipelineError, match="interrupted"):
        push_study(plain_study)
    assert calls[0][1] == 4  # four clips uploaded into the first project, no task imported
    monkeypatch.setattr(transport_module, "upload_clips", real_upload)

    result = CliRunner().invoke(cli, ["push", str(plain_study.root)])
    assert result.exit_code == 0, result.output
    assert ("clips: uploaded into Label Studio's own storage (no local-files folder or S3 "
            "configured)") in result.output
    assert "4 clip(s) uploaded" in result.output  # only the second project's: 4 found again
    assert "8 task(s) imported" in result.output

    client = LabelStudio(base_url=default_label_studio.url, api_key=default_label_studio.token)
    clip_ids = set(read_clips(plain_study)["clip_id"])
    for record in read_projects(plain_study).itertuples():
        project_id = int(record.project_id)
        stored = uploads_of(client, project_id)
        assert len(stored) == 4  # each clip once in each coder's project
        assert {re.sub(r"^[0-9a-f]{8}-", "", Path(name).name) for name in stored} == {
            f"{c}.mp4" for c in clip_ids}
        raw = export_project_raw(connect(plain_study), project_id).decode()
        for secret in [*DYADS, *ARMS.values(), *TIMEPOINTS, "SRCNAME", "bank"]:
            assert secret not in raw
        for task in json.loads(raw):
            assert set(task["data"]) == {"video", "clip_id", "fps"}
            assert re.fullmatch(rf"/data/upload/{project_id}/[0-9a-f]{{8}}-"
                                rf"{task['data']['clip_id']}\.mp4", task["data"]["video"])

    again = push_study(plain_study)
    assert (again.clips_uploaded, again.tasks_imported, again.tasks_existing) == (0, 0, 8)

    # a clip is served to a logged-in member, with ranges, and not to anyone else
    first = int(read_projects(plain_study).iloc[0]["project_id"])
    task = json.loads(export_project_raw(connect(plain_study), first))[0]
    clip = plain_study.absolute(
        read_clips(plain_study).set_index("clip_id").loc[task["data"]["clip_id"], "file"])
    video = default_label_studio.url + task["data"]["video"]
    anonymous = httpx.get(video, timeout=30)
    assert anonymous.status_code != 200 or anonymous.content != clip.read_bytes()
    made = simulate_coders(plain_study, coders, seed=1)
    assert made == len(plan.assignments) == 8
    passwords = json.loads((plain_study.server_dir / "simulated_coders.json").read_text())
    owner = read_projects(plain_study).iloc[0]["coder"]
    with closing(coder_session(default_label_studio.url, owner, passwords[owner])) as session:
        assert session.get(video).content == clip.read_bytes()
        part = session.get(video, headers={"Range": "bytes=10-99"})
        assert part.status_code == 206 and part.content == clip.read_bytes()[10:100]

    report = pull_study(plain_study)
    assert report.new == 8 and not report.problems
    ratings = pd.read_csv(plain_study.ratings_csv, dtype=str, keep_default_na=False)
    assert set(ratings["coder"]) == set(coders) and set(ratings["clip_id"]) == clip_ids


def test_a_rating_posted_in_another_coders_name_is_blamed_on_the_account_that_posted_it(
        plain_study, default_label_studio, simulated_session):
    forger, victim = (f"forge-{c}-{secrets.token_hex(3)}@example.org" for c in "ab")
    batches.create_batch(plain_study, [forger, victim], reliability_share=0.0, seed=5)
    push_study(plain_study)
    simulate_coders(plain_study, [forger, victim], seed=2)
    ids = {member.email: member.id for member in list_members(connect(plain_study))}
    project = int(read_projects(plain_study).set_index("coder").loc[forger, "project_id"])
    task = json.loads(export_project_raw(connect(plain_study), project))[0]
    scheme = load_scheme(plain_study.scheme_path)
    forged = annotation_result(simulated_ratings(scheme, task["data"]["clip_id"], victim, 1))
    with closing(simulated_session(plain_study, default_label_studio.url, forger)) as session:
        made = session.post(f"/api/tasks/{task['id']}/annotations/",
                            json={"result": forged, "completed_by": ids[victim]})
    assert made.status_code == 201, made.text
    assert made.json()["completed_by"] == ids[victim]  # Label Studio stores the victim's name

    pulled = CliRunner().invoke(cli, ["pull", str(plain_study.root)])
    assert pulled.exit_code == 0, pulled.output
    lines = [line for line in pulled.output.splitlines() if "CHANGED BY SOMEONE ELSE" in line]
    assert len(lines) == 1, pulled.output
    assert (f"{forger} made or changed a rating in {forger}'s project in the name of {victim} "
            f"(annotation {made.json()['id']})") in lines[0]
    assert f"{victim} created" not in lines[0] and f"{victim} changed" not in lines[0]
    ratings = pd.read_csv(plain_study.ratings_csv, dtype=str, keep_default_na=False)
    assert str(made.json()["id"]) not in set(ratings["annotation_id"])  # not taken as a rating


def test_refusals_of_a_default_server_are_one_sentence_saying_what_to_change(
        plain_study, default_label_studio):
    batches.create_batch(plain_study, ["refused@example.org"], reliability_share=0.0, seed=2)
    text = plain_study.toml_path.read_text(encoding="utf-8")
    write_text_atomic(plain_study.toml_path, text.replace(
        "[label_studio]\n", f'[label_studio]\nclips = "local"\ndocument_root = '
        f'"{plain_study.root}"\n', 1))
    with pytest.raises(PipelineError) as refused:
        push_study(load_study(plain_study.root))
    message = str(refused.value)
    assert message.count("\n") == 0 and "{" not in message and "status_code" not in message
    assert "does not serve local files" in message
    assert 'clips = "upload"' in message and "LOCAL_FILES_SERVING_ENABLED=true" in message

    write_text_atomic(plain_study.toml_path, text.replace(
        "[label_studio]\n", '[label_studio]\nclips = "sideways"\n', 1))
    with pytest.raises(PipelineError, match='clips = .sideways. is not one of'):
        push_study(load_study(plain_study.root))


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="Debian's chromium is not installed (apt-get install chromium)")
def test_a_coder_plays_an_uploaded_clip_in_chromium(plain_study, default_label_studio):
    from playwright.sync_api import sync_playwright
    from test_ls_browser import CHROMIUM_ARGS, MEDIA_STATE, PLAY_FOR_A_SECOND, SEEK, log_in

    coder = f"player-{secrets.token_hex(3)}@example.org"
    password = "Coder-" + secrets.token_urlsafe(12)
    coder_session(default_label_studio.url, coder, password,
                  invite=invite_link(connect(plain_study))).close()
    batches.create_batch(plain_study, [coder], reliability_share=0.0, seed=3)
    assert push_study(plain_study).clips_uploaded == 4
    project_id = int(read_projects(plain_study).iloc[0]["project_id"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            log_in(page, default_label_studio.url, coder, password)
            page.goto(f"{default_label_studio.url}/projects/{project_id}/data")
            page.get_by_text("Label All Tasks").first.click()
            page.wait_for_selector("video", state="attached", timeout=60_000)
            page.wait_for_function(
                "() => document.querySelector('video').readyState >= 3", timeout=60_000)
            state = page.evaluate(MEDIA_STATE)
            assert state["error"] is None
            assert f"/data/upload/{project_id}/" in state["src"]
            assert state["duration"] == pytest.approx(2.0, abs=0.15)
            assert page.evaluate(PLAY_FOR_A_SECOND) > 0.3
            played = page.evaluate(MEDIA_STATE)
            assert played["audioBytes"] > 0 and played["videoBytes"] > 0
            assert page.evaluate(SEEK, 1.5) == pytest.approx(1.5, abs=0.1)
        finally:
            browser.close()
