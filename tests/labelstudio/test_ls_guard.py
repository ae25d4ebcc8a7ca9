"""The coder guard fails closed: one coder against another's, the master's and the admin's objects.

The study's own server (coder spaces) with two coders and the master of a training batch, all
signed up through their own links and rating; the admin adds a project of its own. Coder A then
replays every URL pattern the server registers (read from its URL configuration, so routes a
later Label Studio adds are covered), with and without `.json`, in every authentication Label
Studio accepts, and the forged writes (ids spelt as floats and strings, form and multipart
bodies); nothing gets through and the database does not change. A still rates her own clips.
"""

from __future__ import annotations

import json
import secrets
import ssl
from contextlib import closing

import pytest
from click.testing import CliRunner
from guard_replay import (
    admin_client,
    admin_project,
    auth_modes,
    forged_writes,
    mint_access_token,
    postgres_rows,
    replay,
    seat_victim,
    sqlite_rows,
    sweep_requests,
    url_routes,
)
from test_ls_coder_spaces import project_of, rate_all, write_clips

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.coders import coder_session
from coding_pipeline.labelstudio.ls_site.allow import NEVER_SERVED, find_route
from coding_pipeline.labelstudio.push import push_study
from coding_pipeline.labelstudio.server import read_credentials, start_server, stop_server
from coding_pipeline.labelstudio.spaces import list_spaces

pytestmark = pytest.mark.labelstudio

TAG = secrets.token_hex(3)
CODER_A, CODER_B, MASTER = (f"guard-{who}-{TAG}@example.org" for who in ("a", "b", "master"))


def seat_coders(study, url: str, verify: bool | ssl.SSLContext = True):
    """Sign coders A, B and the master up at `url`, push a training batch, let B and the master
    rate, and add the admin's own project: (clients of A per authentication, A's objects, the
    victims' objects, every coder's session)."""
    credentials = read_credentials(study)
    seats = {}
    for email in (CODER_A, CODER_B, MASTER):
        invited = CliRunner().invoke(cli, ["coders", "invite", str(study.root), email])
        assert invited.exit_code == 0, invited.output
        seats[email] = coder_session(url, email, "Pw-" + secrets.token_urlsafe(12),
                                     invite=invited.output.strip())
    batches.create_training_batch(study, MASTER, [CODER_A, CODER_B], n_clips=3, seed=3)
    push_study(study)
    for email in (CODER_B, MASTER):
        rate_all(study, seats[email], email)
    spaces = list_spaces(connect(study))
    found = {}
    for email in (CODER_A, CODER_B, MASTER):
        with closing(admin_client(url, credentials.token, spaces[email].id,
                                  verify=verify)) as admin:
            found[email] = seat_victim(email, seats[email], admin,
                                       int(project_of(study, email)["project_id"]))
    mine = found[CODER_A]
    with closing(admin_client(url, credentials.token, verify=verify)) as admin:
        config = admin.get(f"/api/projects/{mine.project}/", headers={
            "X-Coding-Pipeline-Space": str(spaces[CODER_A].id)}).json()["label_config"]
        project = admin_project(admin, config)
        with closing(coder_session(url, credentials.email, credentials.password)) as lab:
            found["admin"] = seat_victim("admin", lab, admin, project)
    a = seats[CODER_A]
    token = a.get("/api/current-user/token").json()["token"]
    access = mint_access_token(credentials.secret_key, mine.user)
    modes = auth_modes(url, a, token, access, verify=verify)
    return modes, mine, [found[CODER_B], found[MASTER], found["admin"]], seats


@pytest.fixture(scope="module")
def seats(tmp_path_factory, clip_bank):
    """The study's own server: coder A's clients, her own objects and the victims' objects."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LABEL_STUDIO_API_KEY", raising=False)
        patch.delenv("LABEL_STUDIO_URL", raising=False)
        study = write_clips(tmp_path_factory.mktemp("guard") / "guardstudy", clip_bank)
        url = start_server(study)
        seated = None
        try:
            seated = seat_coders(study, url)
            modes, mine, victims, coders = seated
            yield study, read_credentials(study), modes, mine, victims, coders
        finally:
            for client in (seated[0] | seated[3]).values() if seated else ():
                client.close()
            stop_server(study)


def database(study):
    return sqlite_rows(study.server_dir / "data" / "label_studio.sqlite3")


def test_every_way_label_studio_authenticates_the_coder_is_hers(seats):
    _, credentials, modes, mine, _, _ = seats
    for label, client in modes.items():
        whoami = client.get("/api/current-user/whoami")
        assert whoami.status_code == 200, (label, whoami.text[:200])
        assert whoami.json()["id"] == mine.user, label
    # Label Studio's tips (fetched from the internet) are served to no one, as when offline
    assert modes["session"].get("/heidi-tips/").status_code == 404
    with closing(admin_client(credentials.url, credentials.token)) as admin:
        assert admin.get("/heidi-tips/").status_code == 404
    # a token Label Studio refuses is refused before anything else
    wrong = modes["Token KEY"].get("/api/projects/",
                                   headers={"Authorization": "Token not-a-token"})
    assert wrong.status_code == 401


def test_no_route_lets_the_coder_reach_another_accounts_objects(seats):
    study, _, modes, mine, victims, _ = seats
    routes, unresolved = url_routes()
    assert len(routes) + len(unresolved) > 300  # Label Studio 1.23.2 registers 343 patterns
    before = database(study)
    b, master, admin = victims
    planned = (sweep_requests(routes, unresolved, [b], ("GET", "POST", "PUT", "PATCH", "DELETE"),
                              json_suffix=True)
               + sweep_requests(routes, unresolved, [master, admin], ("GET", "POST"),
                                json_suffix=False))
    answered = replay(modes["session"], [(m, p, e) for m, p, e, _ in planned])
    through = []
    for (method, path, _, name), (_, _, status, text) in zip(planned, answered, strict=True):
        unlisted = find_route(name, method) is None and not name.startswith("(")
        if status < 400 or (unlisted and status != NEVER_SERVED.get(name, 403)):
            through.append((method, path, name, status, text[:120]))
    assert through == [], through[:60]
    assert database(study) == before
    print(f"\nreplayed {len(planned)} requests over {len(routes) + len(unresolved)} patterns")


def test_every_authentication_spelling_is_held_to_the_same_list(seats):
    study, _, modes, mine, victims, _ = seats
    routes, unresolved = url_routes()
    api = [r for r in routes if r.template.startswith("api/")]
    before = database(study)
    through, sent = [], 0
    for label, client in modes.items():
        planned = sweep_requests(api, [], [victims[0]], ("POST",), json_suffix=False)
        sent += len(planned)
        for (method, path, _, name), (_, _, status, text) in zip(
                planned, replay(client, [(m, p, e) for m, p, e, _ in planned]), strict=True):
            if status < 400:
                through.append((label, method, path, name, status, text[:120]))
    assert through == []
    assert database(study) == before
    print(f"\nreplayed {sent} requests: {len(api)} API patterns x {len(modes)} authentications")


def test_forged_writes_are_refused_in_every_spelling_and_body(seats):
    study, _, modes, mine, victims, seats_ = seats
    other_clip = seats_[CODER_B].get(f"/api/tasks/{victims[0].task}/").json()["data"]["video"]
    before = database(study)
    through, sent = [], 0
    for label, client in modes.items():
        sent += len(forged_writes(mine, victims[0], other_clip)) + 40 * len(victims)
        for method, path, status, text in replay(client, forged_writes(mine, victims[0],
                                                                     other_clip)):
            if status < 400:
                through.append((label, method, path, status, text[:160]))
        for victim in victims:  # nothing of the master's or the admin's either
            for method, path, status, text in replay(client, forged_writes(mine, victim,
                                                                         other_clip)[:40]):
                if status < 400:
                    through.append((label, method, path, status, text[:160]))
    assert through == []
    assert database(study) == before
    print(f"\nreplayed {sent} forged writes in {len(modes)} authentications")
    a = modes["session"]
    assert a.get(f"/api/annotations/{mine.annotation}/").json()["task"] == mine.task
    assert a.get(f"/api/drafts/{mine.draft}/").json()["task"] == mine.task


def test_the_coder_still_rates_her_own_clips_and_names_herself(seats):
    study, _, modes, mine, _, _ = seats
    a = modes["session"]
    nxt = a.post("/api/dm/actions", params={"id": "next_task", "project": mine.project},
                 json={})
    assert nxt.status_code == 200 and nxt.json()["id"] != mine.task  # her next unrated clip
    tasks = rate_all(study, a, CODER_A)
    assert all(t["annotations"] for t in tasks)
    assert {ann["completed_by"] for t in tasks for ann in t["annotations"]} == {mine.user}
    renamed = a.patch(f"/api/users/{mine.user}/", json={"first_name": "Ana", "last_name": "B"})
    assert renamed.status_code == 200 and renamed.json()["first_name"] == "Ana"
    draft = a.patch(f"/api/drafts/{mine.draft}/", json={"result": [], "lead_time": 2})
    assert draft.status_code == 200
    assert [p["id"] for p in json.loads(a.get("/api/projects/").text)["results"]] == [
        mine.project]


def test_the_guard_holds_under_gunicorn_behind_the_proxy_on_postgresql(
        tmp_path, clip_bank, postgres, monkeypatch):
    """The lab server as the README starts it for remote coders: the same refusals through
    the public HTTPS address, with the database on PostgreSQL unchanged by them."""
    from tls_proxy import TlsProxy

    from coding_pipeline.labelstudio import server as ls_server

    for key in ("LABEL_STUDIO_API_KEY", "LABEL_STUDIO_URL", "PGPASSWORD"):
        monkeypatch.delenv(key, raising=False)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"{postgres.host}:{postgres.port}:*:{postgres.user}:{postgres.password}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    study = write_clips(tmp_path / "labguard", clip_bank)
    proxy = TlsProxy(tmp_path)
    database = postgres.create_database()
    seated = None
    try:
        proxy.backend = ls_server.start_server(study, database=database, public_url=proxy.url)
        assert "Booting worker" in ls_server.log_path(study).read_text(errors="replace")
        monkeypatch.setenv("SSL_CERT_FILE", str(proxy.certificate))
        seated = seat_coders(study, proxy.url,
                             verify=ssl.create_default_context(cafile=proxy.certificate))
        modes, mine, victims, coders = seated

        def rows():
            return postgres_rows(host=postgres.host, port=postgres.port, user=postgres.user,
                                 password=postgres.password, dbname=database.rsplit("/", 1)[1])

        before = rows()
        other_clip = coders[CODER_B].get(f"/api/tasks/{victims[0].task}/").json()["data"][
            "video"]
        routes, _ = url_routes()
        api = [r for r in routes if r.template.startswith("api/")]
        through = []
        for label in ("session", "token KEY", "Token<tab>KEY", "Bearer PAT"):
            planned = [(m, p, e) for m, p, e, _ in sweep_requests(api, [], victims[:1], ("POST",),
                                                                   json_suffix=False)]
            planned += forged_writes(mine, victims[0], other_clip)
            through += [(label, *answer[:3]) for answer in replay(modes[label], planned)
                        if answer[2] < 400]
        assert through == []
        assert rows() == before
        assert all(t["annotations"] for t in rate_all(study, modes["session"], CODER_A))
    finally:
        for client in (seated[0] | seated[3]).values() if seated else ():
            client.close()
        ls_server.stop_server(study)
        proxy.close()
