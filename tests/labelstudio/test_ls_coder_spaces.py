"""The study's OWN server (not the shared one): coders' spaces, clip-only serving, hardening.

One server is started for the whole module (first boot 30-60 s). Three coders (two trainees and
the master of a training batch) sign up through their own invite links as a browser would; then,
as coder A, every path we know of to another coder's projects, ratings, files or account is tried.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from contextlib import closing
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.coders import coder_session
from coding_pipeline.labelstudio.pull import pull_study
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.labelstudio.server import read_credentials, start_server, stop_server
from coding_pipeline.labelstudio.simulate import annotation_result, simulated_ratings
from coding_pipeline.labelstudio.spaces import in_space, list_spaces
from coding_pipeline.labelstudio.status import study_status
from coding_pipeline.scheme import load_scheme
from coding_pipeline.study import init_study, load_study, write_text_atomic

pytestmark = pytest.mark.labelstudio

TAG = secrets.token_hex(3)
CODER_A, CODER_B, MASTER = (f"{who}-{TAG}@example.org" for who in ("a", "b", "master"))


def write_clips(root: Path, bank: list[Path], n_clips: int = 4):
    """A study at `root` using its own server, with real clips and a clips.csv."""
    study = init_study(root, name="spaces test", epoch_seconds=2.0)
    study.clips_dir.mkdir(exist_ok=True)
    lines = ["clip_id,dyad_id,timepoint,arm,source,start_s,end_s,file,fps,frames,qc"]
    for index in range(n_clips):
        clip_id = secrets.token_hex(6)
        shutil.copyfile(bank[index % len(bank)], study.clips_dir / f"{clip_id}.mp4")
        lines.append(f"{clip_id},FAMQZ{index},TPQZ,ARMQZ,videos/SRCQZ{index}.mp4,0,2,"
                     f"clips/{clip_id}.mp4,25,50,ok")
    write_text_atomic(study.clips_csv, "\n".join(lines) + "\n")
    return load_study(root)


@pytest.fixture(scope="module")
def own(tmp_path_factory, clip_bank):
    """The study, its server's credentials and a logged-in session per coder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LABEL_STUDIO_API_KEY", raising=False)
        patch.delenv("LABEL_STUDIO_URL", raising=False)
        study = write_clips(tmp_path_factory.mktemp("own") / "trialfolderxq", clip_bank)
        start_server(study)
        try:
            credentials = read_credentials(study)
            runner = CliRunner()
            sessions, passwords = {}, {}
            for email in (CODER_A, CODER_B, MASTER):
                invited = runner.invoke(cli, ["coders", "invite", str(study.root), email])
                assert invited.exit_code == 0, invited.output
                link = invited.output.strip()
                assert link.startswith(f"{credentials.url}/user/signup/?token=")
                passwords[email] = "Pw-" + secrets.token_urlsafe(12)
                sessions[email] = coder_session(credentials.url, email, passwords[email],
                                                invite=link)
            batches.create_training_batch(study, MASTER, [CODER_A, CODER_B], n_clips=3, seed=3)
            push_study(study)
            yield study, credentials, sessions, passwords
            for session in sessions.values():
                session.close()
        finally:
            stop_server(study)


def project_of(study, coder: str) -> dict:
    projects = read_projects(study)
    return projects[projects["coder"] == coder].iloc[0].to_dict()


def rate_all(study, session, coder: str) -> list[dict]:
    """The coder rates every task of their project in their own session; returns the tasks."""
    scheme = load_scheme(study.scheme_path)
    project = project_of(study, coder)
    tasks = session.get("/api/tasks/", params={"project": project["project_id"],
                                               "fields": "all"}).json()["tasks"]
    for task in tasks:
        if task["annotations"]:
            continue
        response = session.post(f"/api/tasks/{task['id']}/annotations/", json={
            "result": annotation_result(simulated_ratings(
                scheme, task["data"]["clip_id"], coder, seed=5)), "lead_time": 12.5})
        assert response.status_code == 201, response.text
    return session.get("/api/tasks/", params={"project": project["project_id"],
                                              "fields": "all"}).json()["tasks"]


def test_the_server_refuses_a_forged_host_and_cannot_be_framed(own):
    study, credentials, _, _ = own
    forged = httpx.get(f"{credentials.url}/user/login/", headers={"Host": "evil.example.org"},
                       timeout=30)
    assert forged.status_code == 400
    page = httpx.get(f"{credentials.url}/user/login/", timeout=30)
    assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
    pid = int((study.server_dir / "server.pid").read_text())
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    environ = dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
    assert environ["DJANGO_SETTINGS_MODULE"] == "coding_pipeline.labelstudio.ls_site.settings"
    assert environ["COLLECT_ANALYTICS"] == "false" and environ["SENTRY_DSN"] == ""
    assert "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT" not in environ
    # a cross-site form post is refused (CSRF: the trusted origin is the server's own address)
    with httpx.Client(base_url=credentials.url, timeout=30) as browser:
        browser.get("/user/login/")
        foreign = browser.post("/user/login/", data={
            "email": credentials.email, "password": credentials.password,
            "csrfmiddlewaretoken": browser.cookies.get("csrftoken", "")},
            headers={"Origin": "http://evil.example.org", "Referer": "http://evil.example.org/"})
        assert foreign.status_code == 403


def test_each_coder_signs_up_into_a_space_of_their_own(own):
    study, credentials, sessions, _ = own
    connection = connect(study)
    spaces = list_spaces(connection)
    assert set(spaces) == {CODER_A, CODER_B, MASTER}
    for email, space in spaces.items():
        assert set(space.members.values()) == {email, credentials.email}
        record = project_of(study, email)
        assert record["space"] == str(space.id) and int(record["project_id"]) in space.projects
    # a link is for its own email only; the admin's organisation signs nobody up
    stranger = f"stranger-{TAG}@example.org"
    link = f"{credentials.url}/user/signup/?token={spaces[CODER_A].token}"
    with pytest.raises(Exception, match="sign up"):
        coder_session(credentials.url, stranger, "Pw-" + secrets.token_urlsafe(12), invite=link)
    admin_org = sessions[CODER_A].get("/api/invite")
    assert admin_org.status_code == 403
    everyone = httpx.get(f"{credentials.url}/api/invite",
                         headers={"Authorization": f"Token {credentials.token}"}, timeout=30)
    with pytest.raises(Exception, match="sign up"):
        coder_session(credentials.url, stranger, "Pw-" + secrets.token_urlsafe(12),
                      invite=credentials.url + everyone.json()["invite_url"])
    listed = CliRunner().invoke(cli, ["coders", "list", str(study.root)])
    assert all(email in listed.output for email in (CODER_A, CODER_B, MASTER))
    assert stranger not in listed.output
    without_email = CliRunner().invoke(cli, ["coders", "invite", str(study.root)])
    assert without_email.exit_code == 1 and "give the coder's email" in without_email.output
    # the admin's browser can look into a coder's space; a coder cannot
    with closing(coder_session(credentials.url, credentials.email, credentials.password)) as lab:
        assert lab.get(f"/coding-pipeline/spaces/{spaces[CODER_B].id}/").status_code == 302
        seen = [p["id"] for p in lab.get("/api/projects/").json()["results"]]
        assert seen == [int(project_of(study, CODER_B)["project_id"])]
        assert lab.get("/coding-pipeline/spaces/1/").status_code == 302
    assert sessions[CODER_A].get(f"/coding-pipeline/spaces/{spaces[CODER_B].id}/"
                                 ).status_code == 403  # not on the coders' allow-list


def test_coder_a_sees_and_changes_nothing_of_b_or_the_master(own):
    study, credentials, sessions, _ = own
    a = sessions[CODER_A]
    b_tasks = rate_all(study, sessions[CODER_B], CODER_B)
    master_tasks = rate_all(study, sessions[MASTER], MASTER)
    mine = project_of(study, CODER_A)
    others = [project_of(study, CODER_B), project_of(study, MASTER)]
    b_annotation = b_tasks[0]["annotations"][0]
    before = {t["id"]: json.dumps(t["annotations"], sort_keys=True) for t in b_tasks}

    listed = a.get("/api/projects/").json()["results"]
    assert [p["id"] for p in listed] == [int(mine["project_id"])]
    users = a.get("/api/users/").json()
    assert {u["email"] for u in users} == {CODER_A, credentials.email}
    assert a.get("/api/organizations/").status_code == 200
    assert len(a.get("/api/organizations/").json()) == 1

    refused = []  # (what, status) of everything that must fail
    for project in others:
        pid = project["project_id"]
        for path in (f"/api/projects/{pid}/", f"/api/projects/{pid}/tasks/",
                     f"/api/projects/{pid}/export?exportType=JSON",
                     f"/api/projects/{pid}/exports/", f"/api/projects/{pid}/next/",
                     f"/api/projects/{pid}/summary/", f"/api/projects/{pid}/annotators/",
                     f"/api/tasks/?project={pid}", f"/api/dm/views/?project={pid}",
                     f"/api/dm/columns/?project={pid}", f"/api/dm/project/?project={pid}",
                     f"/projects/{pid}/data", f"/projects/{pid}/settings/"):
            refused.append((f"GET {path}", a.get(path).status_code))
        refused.append(("PATCH project", a.patch(f"/api/projects/{pid}/",
                                                 json={"title": "mine now"}).status_code))
        refused.append(("DELETE project", a.delete(f"/api/projects/{pid}/").status_code))
        refused.append(("new DM view", a.post("/api/dm/views/", json={
            "project": int(pid), "data": {"title": "peek"}}).status_code))
        refused.append(("DM action", a.post(f"/api/dm/actions?id=delete_tasks&project={pid}",
                                            json={"selectedItems": {"all": True}}).status_code))
        refused.append(("next task", a.post(f"/api/dm/actions?id=next_task&project={pid}",
                                            json={}).status_code))
    task = b_tasks[0]
    for path in (f"/api/tasks/{task['id']}/", f"/api/tasks/{task['id']}/annotations/",
                 f"/api/tasks/{task['id']}/drafts", f"/api/annotations/{b_annotation['id']}/",
                 f"/api/tasks/{master_tasks[0]['id']}/"):
        refused.append((f"GET {path}", a.get(path).status_code))
    result = [dict(r) for r in b_annotation["result"]]
    result[0]["value"] = {"choices": ["1"]}
    refused += [
        ("PATCH B's annotation", a.patch(f"/api/annotations/{b_annotation['id']}/",
                                         json={"result": result}).status_code),
        ("DELETE B's annotation", a.delete(f"/api/annotations/{b_annotation['id']}/").status_code),
        ("annotate B's task", a.post(f"/api/tasks/{task['id']}/annotations/",
                                     json={"result": result}).status_code),
        ("annotate B's task as B", a.post(f"/api/tasks/{task['id']}/annotations/", json={
            "result": result, "completed_by": b_annotation["completed_by"]}).status_code),
        ("draft on B's task", a.post(f"/api/tasks/{task['id']}/drafts",
                                     json={"result": result, "lead_time": 1}).status_code),
        ("prediction on B's task", a.post("/api/predictions/", json={
            "task": task["id"], "result": result}).status_code),
        ("PATCH B's task", a.patch(f"/api/tasks/{task['id']}/", json={"data": {}}).status_code),
        ("annotate the master's task", a.post(
            f"/api/tasks/{master_tasks[0]['id']}/annotations/", json={"result": result}
        ).status_code),
    ]
    # another coder's account, another space, new spaces
    b_space = list_spaces(connect(study))[CODER_B]
    me = a.get("/api/current-user/whoami").json()
    refused += [
        ("join B's space", a.patch(f"/api/users/{me['id']}/",
                                   json={"active_organization": b_space.id}).status_code),
        ("PATCH B's account", a.patch(f"/api/users/{b_annotation['completed_by']}/",
                                      json={"first_name": "x"}).status_code),
        ("GET B's space", a.get(f"/api/organizations/{b_space.id}").status_code),
        ("B's space members", a.get(f"/api/organizations/{b_space.id}/memberships").status_code),
        ("new organisation", a.post("/api/organizations/", json={"title": "mine"}).status_code),
        ("new user", a.post("/api/users/", json={"email": "x@example.org"}).status_code),
        ("spaces listing", a.get("/coding-pipeline/api/spaces/").status_code),
    ]
    # a coder's own API token does no better than their session
    token = a.get("/api/current-user/token").json().get("token")
    if token:
        as_token = httpx.get(f"{credentials.url}/api/projects/{others[0]['project_id']}/",
                             headers={"Authorization": f"Token {token}"}, timeout=30)
        refused.append(("token: B's project", as_token.status_code))
        headed = httpx.get(f"{credentials.url}/api/projects/",
                           headers={"Authorization": f"Token {token}",
                                    "X-Coding-Pipeline-Space": str(b_space.id)}, timeout=30)
        assert [p["id"] for p in headed.json()["results"]] == [int(mine["project_id"])]
    let_through = [(what, status) for what, status in refused if status < 400]
    assert let_through == []
    assert a.get(f"/api/users/{me['id']}/").json()["active_organization"] != b_space.id

    # nothing of B's changed; A's own project still works for A
    admin = in_space(connect(study), b_space.id).client
    after = {t.id: json.dumps(t.annotations, sort_keys=True)
             for t in admin.tasks.list(project=int(others[0]["project_id"]), fields="all")}
    assert after == before
    assert a.get(f"/api/projects/{mine['project_id']}/").status_code == 200
    own_tasks = rate_all(study, a, CODER_A)
    assert all(t["annotations"] for t in own_tasks)


def test_only_clips_of_the_coders_own_projects_are_served(own):
    study, credentials, sessions, _ = own
    a = sessions[CODER_A]
    root = study.root.resolve()
    tasks = a.get("/api/tasks/", params={"project": project_of(study, CODER_A)["project_id"],
                                         "fields": "all"}).json()["tasks"]
    video = tasks[0]["data"]["video"]
    assert video.startswith("/data/local-files/?d=") and "/" not in video.split("?d=")[1]
    clip = study.clips_dir / video.split("?d=")[1]
    whole = a.get(video)
    assert whole.status_code == 200 and whole.content == clip.read_bytes()
    part = a.get(video, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == clip.read_bytes()[100:200]
    assert httpx.get(f"{credentials.url}{video}", timeout=30).status_code in (401, 403)

    # a storage on the study folder, its parents or the server's own folder
    project_id = project_of(study, CODER_A)["project_id"]
    for folder in (root, root.parent, study.server_dir, study.clips_dir, Path("/")):
        for kind in ("localfiles", "s3"):
            made = a.post(f"/api/storages/{kind}", json={
                "project": int(project_id), "path": str(folder), "title": "x"})
            assert made.status_code >= 400, (kind, folder, made.text[:200])
        admin_made = httpx.post(
            f"{credentials.url}/api/storages/localfiles", json={
                "project": int(project_id), "path": str(folder)},
            headers={"Authorization": f"Token {credentials.token}"}, timeout=30)
        assert admin_made.status_code == 404  # local-files storage is not on this server at all

    # crafted paths, a symlink to a study file, other coders' clips
    (study.clips_dir / "zz-link.mp4").symlink_to(study.root / "sessions.csv")
    admin = in_space(connect(study), list_spaces(connect(study))[CODER_A].id).client
    linked = admin.projects.import_tasks(id=int(project_id), return_task_ids=True, request=[
        {"video": "/data/local-files/?d=zz-link.mp4", "clip_id": "zzlink", "fps": 25}])
    b_video = sessions[CODER_B].get("/api/tasks/", params={
        "project": project_of(study, CODER_B)["project_id"], "fields": "all"}
    ).json()["tasks"][0]["data"]["video"]
    a_clips = {t["data"]["video"] for t in tasks}
    crafted = [
        "zz-link.mp4", "../sessions.csv", "..%2Fsessions.csv", "clips/../sessions.csv",
        ".labelstudio/credentials.json", "../.labelstudio/credentials.json", "study.toml",
        "../study.toml", str(root / "sessions.csv"), str(clip), "/etc/passwd", "%2e%2e/clips.csv",
        "clips.csv", "ratings.csv", "batches", "", "clips/", "..", ".",
    ]
    if b_video not in a_clips:
        crafted.append(b_video.split("?d=")[1])
    for d in crafted:
        response = a.get("/data/local-files/", params={"d": d})
        assert response.status_code == 404, (d, response.status_code)
        assert str(root) not in response.text
    for name in ("sessions.csv", "study.toml", ".labelstudio/credentials.json"):
        raw = a.get(f"/data/local-files/?d={name}")
        assert raw.status_code == 404
    # nothing a coder reads names the study folder
    seen = json.dumps(tasks) + a.get(f"/api/projects/{project_id}/").text
    assert str(root) not in seen and root.name not in seen
    os.unlink(study.clips_dir / "zz-link.mp4")
    admin.tasks.delete(id=linked.task_ids[0])


def test_pull_reports_a_change_by_anyone_else_and_keeps_the_coders_own_value(own):
    study, credentials, sessions, _ = own
    b_tasks = rate_all(study, sessions[CODER_B], CODER_B)
    rate_all(study, sessions[MASTER], MASTER)
    rate_all(study, sessions[CODER_A], CODER_A)
    first = pull_study(study)
    assert not [p for p in first.problems if "someone other" in p.kind]
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    b_annotation = b_tasks[0]["annotations"][0]
    item = b_annotation["result"][0]["from_name"]
    mask = (ratings["annotation_id"] == str(b_annotation["id"])) & (ratings["item"] == item)
    b_value = ratings.loc[mask, "value"].item()

    # the admin account can change anything: pull must notice and keep B's own value
    space = list_spaces(connect(study))[CODER_B]
    admin = in_space(connect(study), space.id).client
    result = [dict(r) for r in b_annotation["result"]]
    forged = "1" if b_value != "1" else "2"
    result[0]["value"] = {"choices": [forged]}
    admin.annotations.update(id=b_annotation["id"], result=result)
    deleted = b_tasks[1]["annotations"][0]
    admin.annotations.delete(id=deleted["id"])

    runner = CliRunner()
    pulled = runner.invoke(cli, ["pull", str(study.root)])
    assert pulled.exit_code == 0, pulled.output
    lines = [line for line in pulled.output.splitlines() if "CHANGED BY SOMEONE ELSE" in line]
    assert len(lines) == 1
    assert credentials.email in lines[0] and f"{CODER_B}'s rating" in lines[0]
    assert b_tasks[0]["data"]["clip_id"] in lines[0]
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    assert ratings.loc[(ratings["annotation_id"] == str(b_annotation["id"]))
                       & (ratings["item"] == item), "value"].item() == b_value
    assert str(deleted["id"]) in set(ratings["annotation_id"])  # deleted there, kept here
    problems = sorted(study.exports_dir.glob("*_problems.txt"))[-1].read_text()
    assert f"{credentials.email} changed {CODER_B}'s rating" in problems
    assert "no longer on the server" in problems

    status = study_status(study)
    row = status[status["coder"] == CODER_A].iloc[0]
    assert row["rated"] == row["assigned"] and row["project"] == project_of(study, CODER_A)[
        "project_id"]
