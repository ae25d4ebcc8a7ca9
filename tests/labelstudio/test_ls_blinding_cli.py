"""Blinding (a scan of everything sent to the server) and the CLI commands of this area."""

from __future__ import annotations

import json
import secrets

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from label_studio_sdk import LabelStudio

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.labelstudio.simulate import simulate_coders
from coding_pipeline.study import read_clips

pytestmark = pytest.mark.labelstudio


def identifying_strings(study) -> set[str]:
    """Dyad ids, arms, timepoints and source file names (and their stems) from clips.csv."""
    clips = read_clips(study)
    found: set[str] = set()
    for column in ("dyad_id", "arm", "timepoint"):
        found |= set(clips[column])
    for source in clips["source"]:
        name = source.rsplit("/", 1)[-1]
        found |= {source, name, name.rsplit(".", 1)[0]}
    return {s for s in found if s}


def test_nothing_sent_to_the_server_identifies_a_family_arm_timepoint_or_source(
        ls_study, label_studio, monkeypatch):
    coders = [f"blind-{secrets.token_hex(3)}@example.org"]
    batches.create_batch(ls_study, coders, reliability_share=0.0, seed=4)
    sent: list[str] = []
    original = httpx.Client.send

    def recording_send(self, request, **kwargs):
        sent.append(f"{request.method} {request.url}\n{request.headers}\n"
                    + request.read().decode("utf-8", errors="replace"))
        return original(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", recording_send)
    report = push_study(ls_study)
    monkeypatch.undo()
    assert report.tasks_imported == 6 and any("/import" in s for s in sent)

    # ... and everything the server now holds about the project, as a coder could read it
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    project_id = int(read_projects(ls_study).iloc[0]["project_id"])
    project = client.projects.get(id=project_id)
    held = [project.title, project.description or "", project.label_config or "",
            project.expert_instruction or ""]
    held += [json.dumps(t.data) for t in client.tasks.list(project=project_id, fields="all")]
    held += [f"{s.path} {s.title}" for s in client.import_storage.local.list(project=project_id)]
    held += [p.name for p in ls_study.clips_dir.iterdir()]

    secrets_found = {
        needle: text[:200] for needle in identifying_strings(ls_study)
        for text in sent + held if needle.lower() in text.lower()
    }
    assert secrets_found == {}
    assert "FAMXQ101" in identifying_strings(ls_study)  # the scan looks for the right things
    assert "FAMXQ101" in ls_study.clips_csv.read_text()


def test_cli_batch_push_simulate_status_pull(ls_study, label_studio):
    runner = CliRunner()
    root = str(ls_study.root)
    tag = secrets.token_hex(3)
    coders = [f"cli-a-{tag}@example.org", f"cli-b-{tag}@example.org"]

    refused = runner.invoke(cli, ["batch", "create", root, "--coders", ",".join(coders)])
    assert refused.exit_code == 1
    assert f"Not a member of Label Studio at {label_studio.url}: {coders[0]}, {coders[1]}" \
        in refused.output
    assert "Traceback" not in refused.output

    invite = runner.invoke(cli, ["coders", "invite", root])
    assert invite.exit_code == 0 and "/user/signup/?token=" in invite.output
    # the simulated coders sign up through that link; afterwards they are members
    batches.create_batch(ls_study, coders, reliability_share=0.0, seed=1, name="warmup")
    push_study(ls_study)
    simulate_coders(ls_study, coders, seed=9)
    members = runner.invoke(cli, ["coders", "list", root])
    assert coders[0] in members.output and "Simulated Coder B" in members.output

    more = runner.invoke(cli, ["batch", "create", root, "--coders", ",".join(coders),
                               "--training", "--master", coders[0]])
    assert more.exit_code == 1 and "master coder" in more.output
    training = runner.invoke(cli, ["batch", "create", root, "--coders", coders[1],
                                   "--training", "--master", coders[0], "--clips", "3",
                                   "--seed", "2", "--name", "cert"])
    assert training.exit_code == 0, training.output
    assert "Batch cert (training)" in training.output
    shown = runner.invoke(cli, ["batch", "show", root, "cert"])
    assert "master coder: " + coders[0] in shown.output

    pushed = runner.invoke(cli, ["push", root])
    assert pushed.exit_code == 0, pushed.output
    assert "2 project(s) created, 2 already there; 6 task(s) imported" in pushed.output

    status = runner.invoke(cli, ["status", root])
    assert status.exit_code == 0, status.output
    table = [line.split() for line in status.output.splitlines()[1:]]
    by_key = {(row[0], row[1]): row[2:6] for row in table}
    assert by_key[("warmup", coders[0])][0] == by_key[("warmup", coders[0])][1]  # all rated
    assert by_key[("cert", coders[1])] == ["3", "0", "0", "3"]

    pulled = runner.invoke(cli, ["pull", root])
    assert pulled.exit_code == 0, pulled.output
    assert "6 new, 0 updated, 0 removed" in pulled.output
    again = runner.invoke(cli, ["pull", root])
    assert "nothing changed" in again.output and "(unchanged)" in again.output
    ratings = pd.read_csv(ls_study.ratings_csv, dtype=str, keep_default_na=False)
    assert set(ratings["batch"]) == {"warmup"}
    for result in (refused, invite, members, pushed, status, pulled, again):
        assert label_studio.token not in result.output


def test_cli_errors_are_one_clear_line(ls_study, label_studio, monkeypatch):
    runner = CliRunner()
    root = str(ls_study.root)
    wrong = runner.invoke(cli, ["coders", "list", root, "--url", "http://127.0.0.1:9"])
    assert wrong.exit_code == 1
    assert wrong.output.startswith("Error: ") and "http://127.0.0.1:9" in wrong.output
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "expired-or-wrong")
    bad = runner.invoke(cli, ["coders", "list", root])
    assert bad.exit_code == 1 and "refused the API token" in bad.output
    assert "expired-or-wrong" not in bad.output
    no_batch = runner.invoke(cli, ["push", root])
    assert no_batch.exit_code == 1 and "batch create" in no_batch.output
    for result in (wrong, bad, no_batch):
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
