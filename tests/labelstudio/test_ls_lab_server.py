"""The study's server for remote coders: on a real PostgreSQL, under gunicorn, behind an HTTPS
reverse proxy at its public URL. Push, pull and a restart work on PostgreSQL; the password is
never stored or printed; a login and a clip go through the proxy with secure cookies."""

from __future__ import annotations

import json
import os
import stat
from contextlib import closing
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import LabelStudioServer, make_study
from tls_proxy import TlsProxy

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio import deploy
from coding_pipeline.labelstudio import server as ls_server
from coding_pipeline.labelstudio.projects import export_project_raw, read_projects
from coding_pipeline.labelstudio.pull import pull_study
from coding_pipeline.labelstudio.push import push_study
from coding_pipeline.labelstudio.simulate import simulate_coders
from coding_pipeline.study import load_study

pytestmark = pytest.mark.labelstudio

OWN = LabelStudioServer(url="", token="", email="", password="", document_root=None, host=None)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, postgres, clip_bank):
    """A study whose own server runs on PostgreSQL at a public URL (a local TLS proxy)."""
    folder = tmp_path_factory.mktemp("lab-server")
    passfile = folder / "pgpass"
    passfile.write_text(f"{postgres.host}:{postgres.port}:*:{postgres.user}:{postgres.password}\n")
    passfile.chmod(0o600)
    saved = {k: os.environ.get(k) for k in ("PGPASSFILE", "PGPASSWORD", "LABEL_STUDIO_API_KEY",
                                            "LABEL_STUDIO_URL")}
    os.environ["PGPASSFILE"] = str(passfile)
    for key in ("PGPASSWORD", "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_URL"):
        os.environ.pop(key, None)
    study = make_study(folder / "study", OWN, clip_bank, n_clips=4)
    text = study.toml_path.read_text(encoding="utf-8")  # the way any server takes clips
    study.toml_path.write_text(text.replace("[label_studio]\n",
                                            '[label_studio]\nclips = "upload"\n'))
    proxy = TlsProxy(folder)
    database = postgres.create_database()
    said: list[str] = []
    try:  # one organisation, as on a lab's shared server (not the workstation's coder spaces)
        proxy.backend = ls_server.start_server(study, document_root=folder.resolve(),
                                               database=database, public_url=proxy.url,
                                               progress=said.append)
        yield load_study(study.root), proxy, database, "\n".join(said)
    finally:
        ls_server.stop_server(study)
        proxy.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def every_file_text(study) -> str:
    return "\n".join(p.read_text(errors="replace") for p in study.root.rglob("*")
                     if p.is_file() and p.suffix != ".mp4")


def test_the_server_runs_on_postgresql_with_push_pull_and_a_restart(lab, postgres, monkeypatch):
    import psycopg

    study, proxy, database, output = lab
    assert study.config.raw["label_studio"]["database"] == database
    assert study.config.raw["label_studio"]["public_url"] == proxy.url
    assert not list(study.server_dir.rglob("*.sqlite3"))  # no SQLite database was made

    coders = ["pg-coder-a@example.org", "pg-coder-b@example.org"]
    plan = batches.create_batch(study, coders, reliability_share=1.0, seed=7)
    assert push_study(study).tasks_imported == len(plan.assignments) == 8
    # the coders sign up and rate from elsewhere: through the HTTPS proxy at the public URL
    monkeypatch.setenv("SSL_CERT_FILE", str(proxy.certificate))
    token = ls_server.read_credentials(study).token
    assert simulate_coders(study, coders, seed=3, url=proxy.url, token=token) == 8
    first = pull_study(study)
    assert first.new == 8 and not first.problems
    ratings = pd.read_csv(study.ratings_csv, dtype=str)

    name = database.rsplit("/", 1)[1]
    with psycopg.connect(host=postgres.host, port=postgres.port, user=postgres.user,
                         password=postgres.password, dbname=name) as db:
        annotations = db.execute("SELECT count(*) FROM task_completion").fetchone()[0]
    assert annotations == 8  # the ratings live in PostgreSQL

    runner = CliRunner()
    assert runner.invoke(cli, ["server", "stop", str(study.root)]).exit_code == 0
    again = runner.invoke(cli, ["server", "start", str(study.root)])  # study.toml keeps both
    assert again.exit_code == 0, again.output
    assert f"Coders open {proxy.url}" in again.output
    assert push_study(study).tasks_imported == 0
    after = pull_study(study)
    assert (after.new, after.updated, after.removed) == (0, 0, 0)
    assert pd.read_csv(study.ratings_csv, dtype=str).equals(ratings)

    # the password is in no study file, output or log, nor in the server's environment
    for text in (every_file_text(study), output, again.output):
        assert postgres.password not in text
    pid = int(ls_server.pid_path(study).read_text())
    assert postgres.password.encode() not in Path(f"/proc/{pid}/environ").read_bytes()

    moving = runner.invoke(cli, ["server", "start", str(study.root), "--database",
                                 postgres.create_database()])
    assert moving.exit_code == 1 and "is running" in moving.output


def test_a_login_and_a_clip_go_through_the_https_proxy_under_gunicorn(lab):
    study, proxy, _database, _output = lab
    credentials = ls_server.read_credentials(study)
    log = ls_server.log_path(study).read_text(errors="replace")
    assert "Booting worker" in log and "Starting development server" not in log
    if read_projects(study).empty:  # when run on its own
        batches.create_batch(study, ["proxy-coder@example.org"], reliability_share=0.0, seed=1)
        push_study(study)
    record = read_projects(study).iloc[0]
    from coding_pipeline.labelstudio.client import connect

    task = json.loads(export_project_raw(connect(study), int(record["project_id"])))[0]
    clip = study.absolute(f"clips/{task['data']['clip_id']}.mp4")
    assert task["data"]["video"].startswith("/data/upload/")

    with httpx.Client(base_url=proxy.url, verify=str(proxy.certificate), timeout=60) as browser:
        page = browser.get("/user/login/")
        assert page.status_code == 200
        assert any("csrftoken=" in c and "Secure" in c
                   for c in page.headers.get_list("set-cookie"))
        login = browser.post("/user/login/", data={
            "email": credentials.email, "password": credentials.password,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": f"{proxy.url}/user/login/", "Origin": proxy.url})
        assert login.status_code == 302, login.text[:300]
        assert any("sessionid=" in c and "Secure" in c and "HttpOnly" in c
                   for c in login.headers.get_list("set-cookie"))
        whole = browser.get(task["data"]["video"])
        assert whole.status_code == 200 and whole.content == clip.read_bytes()
        part = browser.get(task["data"]["video"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == clip.read_bytes()[:100]

    invite = CliRunner().invoke(cli, ["coders", "invite", str(study.root)])
    assert invite.output.startswith(f"{proxy.url}/user/signup/?token="), invite.output

    forged = httpx.get(f"{credentials.url}/user/login/", headers={"Host": "evil.example.org"})
    assert forged.status_code == 400  # only the public and local host names are served


def test_database_and_public_url_are_checked_before_anything_starts(tmp_path, postgres):
    with pytest.raises(PipelineError, match="must not hold the password"):
        deploy.parse_database_url(f"postgresql://coding:{postgres.password}@127.0.0.1:5/db")
    with pytest.raises(PipelineError, match="https://"):
        deploy.parse_public_url("http://coding.our-lab.org")
    with pytest.raises(PipelineError, match="without a path"):
        deploy.parse_public_url("https://our-lab.org/coding")
    parsed = deploy.parse_database_url("postgresql://coder@db.our-lab.org:6543/trial_2026")
    assert (parsed.user, parsed.host, parsed.port, parsed.name) == (
        "coder", "db.our-lab.org", 6543, "trial_2026")
    socket = deploy.parse_database_url("postgresql://coder@%2Fvar%2Frun%2FPG/trial")
    assert (socket.host, socket.port, socket.url) == (
        "/var/run/PG", 5432, "postgresql://coder@%2Fvar%2Frun%2FPG:5432/trial")

    study = make_study(tmp_path / "wrong-password", OWN, [], n_clips=0)
    (tmp_path / "pgpass").write_text(f"*:*:*:{postgres.user}:not-the-password\n")
    (tmp_path / "pgpass").chmod(stat.S_IRUSR | stat.S_IWUSR)
    env = {"PGPASSFILE": str(tmp_path / "pgpass")}
    result = CliRunner(env=env).invoke(cli, [
        "server", "start", str(study.root), "--database", postgres.create_database()])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Cannot open PostgreSQL database" in result.output and "pgpass" in result.output
    assert not ls_server.pid_path(study).exists()
    with closing(open(study.toml_path)) as toml:
        assert "not-the-password" not in toml.read()


def test_coders_keep_to_their_own_space_under_gunicorn_behind_the_proxy(
        tmp_path, clip_bank, simulated_session, monkeypatch):
    """The lab server as the README starts it (clips served by our view, a space per coder):
    through the public URL each coder reaches only their own projects and clips."""
    for key in ("LABEL_STUDIO_API_KEY", "LABEL_STUDIO_URL"):
        monkeypatch.delenv(key, raising=False)
    study = make_study(tmp_path / "study", OWN, clip_bank, n_clips=4)
    proxy = TlsProxy(tmp_path)
    try:
        proxy.backend = ls_server.start_server(study, public_url=proxy.url)
        study = load_study(study.root)
        log = ls_server.log_path(study).read_text(errors="replace")
        assert "Booting worker" in log  # gunicorn, not the development server
        monkeypatch.setenv("SSL_CERT_FILE", str(proxy.certificate))
        coders = ["space-coder-a@example.org", "space-coder-b@example.org"]
        plan = batches.create_batch(study, coders, reliability_share=0.0, seed=3)
        assert push_study(study).tasks_imported == len(plan.assignments) == 4
        token = ls_server.read_credentials(study).token
        assert simulate_coders(study, coders, seed=2, url=proxy.url, token=token) == 4
        pulled = pull_study(study)
        assert pulled.new == 4 and not pulled.problems

        projects = read_projects(study)
        clips = plan.assignments.groupby("coder")["clip_id"].apply(set).to_dict()
        for me, other in (coders, coders[::-1]):
            mine = {int(p) for p in projects.loc[projects["coder"] == me, "project_id"]}
            theirs = [int(p) for p in projects.loc[projects["coder"] == other, "project_id"]]
            with closing(simulated_session(study, proxy.url, me)) as session:
                listed = session.get("/api/projects/", params={"page_size": 100}).json()
                assert {p["id"] for p in listed["results"]} == mine
                for project_id in theirs:
                    assert session.get(f"/api/projects/{project_id}/").status_code in (403, 404)
                    listing = session.get("/api/tasks/", params={"project": project_id})
                    assert listing.status_code in (403, 404) or listing.json()["tasks"] == []
                for clip_id in clips[other]:
                    assert session.get(f"/data/local-files/?d={clip_id}.mp4").status_code == 404
                for clip_id in clips[me]:
                    answer = session.get(f"/data/local-files/?d={clip_id}.mp4",
                                         headers={"Range": "bytes=0-99"})
                    assert answer.status_code == 206
                    assert answer.content == study.absolute(f"clips/{clip_id}.mp4").read_bytes(
                    )[:100]
    finally:
        ls_server.stop_server(study)
        proxy.close()
