"""Replaying every route of the study's server as one coder against others' objects.

`url_routes()` lists every URL pattern the server's URL configuration registers (read by
ls_routes.py in a process of its own, with the server's settings), as path templates that
`fill()` completes with one victim's objects. `replay()` sends each with the chosen
authentication and returns what answered; `database_rows()` reads the server's database (SQLite
or PostgreSQL) so a test can show nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).parent
# tables that change with any visit (sessions) or hold nothing of a study
VOLATILE_TABLES = {"django_session"}
VOLATILE_COLUMNS = {"last_activity", "last_login"}


@dataclass(frozen=True)
class UrlRoute:
    """One URL pattern: the allow-list's name for it, a path template and its arguments."""

    name: str
    template: str
    kwargs: tuple[str, ...]


def url_routes() -> tuple[list[UrlRoute], list[str]]:
    """Every URL pattern of the server (and the templates that did not resolve back)."""
    dumped = dump_server()
    routes = [UrlRoute(r["name"], r["template"], tuple(r["kwargs"])) for r in dumped["routes"]]
    return routes, dumped["unresolved"]


def dump_server(coder_spaces: bool = True) -> dict:
    """What ls_routes.py reads of the server's configuration (routes, unresolved, internals):
    as the study's own server runs (coder spaces, its clip view) or, with coder_spaces=False, as
    a server given a document root runs (Label Studio's own local-files serving)."""
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE":
               "coding_pipeline.labelstudio.ls_site.settings",
               "LABEL_STUDIO_BASE_DATA_DIR": data, "CODING_PIPELINE_LS_URL": "http://127.0.0.1:9",
               "CODING_PIPELINE_LS_CLIPS_DIR": data if coder_spaces else "",
               "LATEST_VERSION_CHECK": "false",
               "COLLECT_ANALYTICS": "false", "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": ""}
        done = subprocess.run([sys.executable, str(HERE / "ls_routes.py")], env=env, cwd=data,
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Victim:
    """Objects of one account that the coder must not reach."""

    label: str
    user: int
    organization: int
    project: int
    task: int
    annotation: int
    draft: int
    prediction: int
    view: int


PK_KIND = {  # path prefix -> what its <pk> names
    "api/projects/": "project", "projects/": "project", "api/tasks/": "task",
    "api/annotations/": "annotation", "api/drafts/": "draft", "api/predictions/": "prediction",
    "api/dm/views/": "view", "api/users/": "user", "api/organizations/": "organization",
}
ARGUMENT_KIND = {"project_id": "project", "task_id": "task", "annotation_id": "annotation",
                 "user_pk": "user", "space_id": "organization", "entity_id": "annotation"}
SAMPLES = {"format": "json", "path": "x", "sub_path": "x", "action_id": "delete_tasks",
           "entity_name": "annotation", "token": "x", "app_label": "tasks"}


def fill(route: UrlRoute, victim: Victim) -> str:
    """The route's path with every argument naming the victim's object."""
    values = {}
    for name in route.kwargs:
        kind = ARGUMENT_KIND.get(name)
        if name == "pk":
            kind = next((k for prefix, k in PK_KIND.items()
                         if route.template.startswith(prefix)), None)
        if name == "filename":
            values[name] = f"{victim.project}/x.mp4"
        elif kind is not None:
            values[name] = getattr(victim, kind)
        else:
            values[name] = SAMPLES.get(name, victim.project)
    return "/" + route.template.format(**values)


def victim_query(victim: Victim) -> dict[str, int]:
    return {"project": victim.project, "task": victim.task, "view": victim.view}


def victim_body(victim: Victim) -> dict:
    return {"project": victim.project, "task": victim.task, "annotation": victim.annotation,
            "draft_id": victim.draft, "view": victim.view, "completed_by": victim.user,
            "organization": victim.organization, "title": "mine now", "result": []}


def replay(client: httpx.Client, requests: list[tuple[str, str, dict]]) -> list[tuple]:
    """Send each (method, path, keyword arguments); returns (method, path, status, text)."""
    answered = []
    for method, path, extra in requests:
        response = client.request(method, path, **extra)
        answered.append((method, path, response.status_code, response.text[:300]))
    return answered


def mint_access_token(secret_key: str, user_id: int) -> str:
    """A personal-access-token session as Label Studio issues it (a JWT access token)."""
    import jwt

    now = int(time.time())
    return jwt.encode({"token_type": "access", "exp": now + 3600, "iat": now,
                       "jti": uuid.uuid4().hex, "user_id": str(user_id)},
                      secret_key, algorithm="HS256")


def _digest(rows) -> str:
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()


def sqlite_rows(path: Path) -> dict[str, str]:
    """table -> digest of its rows (volatile tables and columns left out)."""
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        found = {}
        for table in sorted(set(tables) - VOLATILE_TABLES):
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [c[0] for c in cursor.description]
            rows = sorted([{c: v for c, v in zip(columns, row, strict=True)
                            if c not in VOLATILE_COLUMNS} for row in cursor.fetchall()],
                          key=lambda row: json.dumps(row, default=str, sort_keys=True))
            found[table] = _digest(rows)
    return found


def postgres_rows(**connect) -> dict[str, str]:
    """The same for a PostgreSQL database (psycopg.connect keyword arguments)."""
    import psycopg

    with psycopg.connect(**connect) as db:
        tables = [r[0] for r in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        found = {}
        for table in sorted(set(tables) - VOLATILE_TABLES):
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [c.name for c in cursor.description]
            rows = sorted([{c: v for c, v in zip(columns, row, strict=True)
                            if c not in VOLATILE_COLUMNS} for row in cursor.fetchall()],
                          key=lambda row: json.dumps(row, default=str, sort_keys=True))
            found[table] = _digest(rows)
    return found


ADMIN_CONFIG_PROJECT = "guard-replay: the admin's own"


def admin_client(url: str, token: str, space: int | None = None, **extra) -> httpx.Client:
    headers = {"Authorization": f"Token {token}"}
    if space is not None:
        headers["X-Coding-Pipeline-Space"] = str(space)
    return httpx.Client(base_url=url, headers=headers, timeout=120, **extra)


def _created(response: httpx.Response) -> int:
    assert response.status_code in (200, 201), response.text[:500]
    return int(response.json()["id"])


def seat_victim(label: str, session: httpx.Client, admin: httpx.Client, project: int) -> Victim:
    """The coder's (or the admin's) objects in `project`: their first task's annotation (made
    now if the task has none), a draft, and a prediction and data manager view the admin adds."""
    me = session.get("/api/current-user/whoami").json()
    tasks = session.get("/api/tasks/", params={"project": project, "fields": "all"}).json()
    task = tasks["tasks"][0]
    result = [{"from_name": "notes", "to_name": "video", "type": "textarea",
               "value": {"text": ["x"]}}]
    annotations = [a for a in task["annotations"] if a["completed_by"] == me["id"]]
    annotation = (annotations[0]["id"] if annotations else _created(session.post(
        f"/api/tasks/{task['id']}/annotations/", json={"result": result})))
    draft = _created(session.post(f"/api/tasks/{task['id']}/drafts",
                                  json={"result": result, "lead_time": 1}))
    prediction = _created(admin.post("/api/predictions/", json={
        "task": task["id"], "result": result, "model_version": "guard"}))
    view = _created(admin.post("/api/dm/views/", json={"project": project,
                                                       "data": {"title": "guard"}}))
    return Victim(label, user=int(me["id"]), organization=int(me["active_organization"]),
                  project=project, task=int(task["id"]), annotation=annotation, draft=draft,
                  prediction=prediction, view=view)


def admin_project(admin: httpx.Client, label_config: str) -> int:
    """A project in the admin's own organisation with one task."""
    project = _created(admin.post("/api/projects/", json={
        "title": ADMIN_CONFIG_PROJECT, "label_config": label_config}))
    imported = admin.post(f"/api/projects/{project}/import", params={"return_task_ids": True},
                          json=[{"video": "/data/local-files/?d=admin.mp4", "clip_id": "adm"}])
    assert imported.status_code == 201, imported.text
    return project


def auth_modes(url: str, session: httpx.Client, token: str, access_token: str,
               verify: bool | ssl.SSLContext = True) -> dict[str, httpx.Client]:
    """One client per way Label Studio authenticates the coder: the session, the legacy token
    in every spelling its parser takes, X-Api-Key, and a personal access token (JWT)."""
    spellings = {"Token KEY": f"Token {token}", "token KEY": f"token {token}",
                 "TOKEN KEY": f"TOKEN {token}", "Token<tab>KEY": f"Token\t{token}",
                 "Token   KEY": f"Token   {token}"}
    modes = {"session": session}
    for label, header in spellings.items():
        modes[label] = httpx.Client(base_url=url, headers={"Authorization": header},
                                    timeout=120, verify=verify)
    modes["X-Api-Key"] = httpx.Client(base_url=url, headers={"X-Api-Key": token}, timeout=120,
                                      verify=verify)
    modes["Bearer PAT"] = httpx.Client(base_url=url, timeout=120, verify=verify,
                                       headers={"Authorization": f"Bearer {access_token}"})
    return modes


def sweep_requests(routes: list[UrlRoute], unresolved: list[str], victims: list[Victim],
                   methods: tuple[str, ...], json_suffix: bool) -> list[tuple[str, str, dict, str]]:
    """(method, path, request arguments, route name) for every route against every victim."""
    planned = []
    every = routes + [UrlRoute("(shadowed)", t, tuple(re.findall(r"{(\w+)}", t)))
                      for t in unresolved]
    for victim in victims:
        for route in every:
            path = fill(route, victim)
            query = victim_query(victim)
            for method in methods:
                extra = {"params": query}
                if method != "GET":
                    extra["json"] = victim_body(victim)
                planned.append((method, path, extra, route.name))
            if json_suffix and "format" not in route.kwargs and path.startswith("/api/"):
                planned.append(("GET", path.rstrip("/") + ".json", {"params": query}, "(.json)"))
    return planned


def spellings(number: int) -> list:
    """The ways a JSON body can spell an object id that Label Studio's serializers read."""
    return [number, float(number), str(number), f"{number}.0", f" {number} ", f"+{number}",
            f"{number}e0", {"id": number}]


def forged_writes(mine: Victim, other: Victim, other_clip_url: str) -> list[tuple[str, str, dict]]:
    """The writes a coder must not get through: moving her own rating or draft into another's
    task, rating in another's name, predictions, views, projects, tasks, imports, exports,
    storages, webhooks, accounts, space switches, invite tokens, tokens (every id spelling,
    JSON, form and multipart)."""
    forged = []
    for value in spellings(other.task):
        forged += [("PATCH", f"/api/annotations/{mine.annotation}/", {"json": {"task": value}}),
                   ("PATCH", f"/api/drafts/{mine.draft}/", {"json": {"task": value}}),
                   ("POST", "/api/predictions/", {"json": {"task": value, "result": []}}),
                   ("POST", f"/api/tasks/{mine.task}/drafts", {"json": {"task": value,
                                                                        "result": []}})]
    for value in spellings(other.project):
        forged += [("POST", "/api/dm/views/", {"json": {"project": value}}),
                   ("POST", "/api/dm/actions", {"params": {"id": "next_task"},
                                                "json": {"project": value}})]
    for value in spellings(other.user):
        forged.append(("POST", f"/api/tasks/{mine.task}/annotations/",
                       {"json": {"result": [], "completed_by": value}}))
    for value in spellings(other.organization):
        forged.append(("PATCH", f"/api/users/{mine.user}/", {"json": {"active_organization":
                                                                      value}}))
    for kind in ("data", "files"):  # urlencoded form and multipart
        def form(fields: dict, kind: str = kind) -> dict:
            if kind == "data":
                return {"data": fields}
            return {"files": {k: (None, str(v)) for k, v in fields.items()}}
        forged += [
            ("POST", f"/api/tasks/{mine.task}/annotations/",
             form({"result": "[]", "completed_by": other.user})),
            ("PATCH", f"/api/annotations/{mine.annotation}/", form({"task": f"{other.task}.0"})),
            ("PATCH", f"/api/drafts/{mine.draft}/", form({"task": other.task})),
            ("PATCH", f"/api/users/{mine.user}/",
             form({"active_organization": other.organization})),
            ("POST", "/api/dm/views/", form({"project": mine.project})),
        ]
    forged += [
        ("POST", "/api/projects/", {"json": {"title": "mine"}}),
        ("POST", f"/api/projects/{mine.project}/import", {"json": [{"video": other_clip_url}]}),
        ("POST", "/api/tasks/", {"json": {"project": mine.project,
                                          "data": {"video": other_clip_url}}}),
        ("GET", f"/api/projects/{mine.project}/export", {"params": {"exportType": "JSON"}}),
        ("POST", f"/api/projects/{mine.project}/exports/", {"json": {}}),
        ("POST", "/api/dm/actions", {"params": {"id": "delete_tasks_annotations",
                                                "project": mine.project},
                                     "json": {"selectedItems": {"all": True}}}),
        ("POST", "/api/dm/actions", {"params": {"id": "delete_tasks", "project": mine.project},
                                     "json": {"selectedItems": {"all": True}}}),
        ("DELETE", f"/api/tasks/{mine.task}/", {}),
        ("DELETE", f"/api/annotations/{mine.annotation}/", {}),
        ("PATCH", f"/api/projects/{mine.project}/", {"json": {"title": "renamed"}}),
        ("DELETE", f"/api/projects/{mine.project}/", {}),
        ("PATCH", f"/api/organizations/{mine.organization}", {"json": {"title": "renamed"}}),
        ("POST", "/api/invite/reset-token", {"json": {}}),
        ("GET", "/api/invite", {}),
        ("GET", "/api/storages/", {"params": {"project": mine.project}}),
        ("POST", "/api/storages/localfiles", {"json": {"project": mine.project, "path": "/"}}),
        ("GET", "/api/webhooks/", {}),
        ("POST", "/api/webhooks/", {"json": {"url": "http://127.0.0.1:9/"}}),
        ("POST", "/api/ml/", {"json": {"project": mine.project, "url": "http://127.0.0.1:9"}}),
        ("POST", "/api/users/", {"json": {"email": "new@example.org"}}),
        ("PATCH", f"/api/users/{other.user}/", {"json": {"first_name": "x"}}),
        ("PATCH", f"/api/users/{mine.user}/", {"json": {"email": "changed@example.org"}}),
        ("POST", "/api/current-user/reset-token/", {"json": {}}),
        ("POST", "/api/token/", {"json": {}}),
        ("POST", f"/api/annotations/{mine.annotation}/convert-to-draft", {"json": {}}),
    ]
    return forged
