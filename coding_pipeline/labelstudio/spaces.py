"""Coder spaces: in the study's own server, one Label Studio organisation per coder.

A coder (and the admin, a member of every space) sees only the projects of their own space, so
coders cannot open each other's projects or the master's. The server makes spaces itself
(ls_site.space_models, asked through /coding-pipeline/api/spaces/ with the admin's token); the
admin's tools act in one space per request by sending the header X-Coding-Pipeline-Space
(`Connection.in_space`).

Any other server (an existing one at --url, or an own one given a document root) has no spaces:
every function here then works on its one organisation as before (space id "").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection, own_clips_dir, resolve_url
from coding_pipeline.study import Study

SPACES_PATH = "coding-pipeline/api/spaces/"


@dataclass(frozen=True)
class Space:
    """One coder's organisation on the study's own server."""

    id: int
    coder: str
    token: str = field(repr=False)
    members: dict[int, str]  # user id -> email
    projects: dict[int, str]  # project id -> title


def uses_spaces(study: Study, url: str | None = None) -> bool:
    """True if the study's commands go to its own server, which keeps coder spaces (no
    connection needed; False when no server is known yet)."""
    try:
        return own_clips_dir(study, resolve_url(study, url)) is not None
    except PipelineError:
        return False


def _space(data: dict) -> Space:
    return Space(
        id=int(data["id"]), coder=str(data["coder"]).lower(), token=str(data["token"]),
        members={int(m["id"]): str(m["email"]).lower() for m in data.get("members", [])},
        projects={int(p["id"]): str(p["title"]) for p in data.get("projects", [])},
    )


def _request(connection: Connection, method: str, what: str, body: dict | None = None) -> dict:
    response = connection.http.request(method, SPACES_PATH, what, json=body, check=False)
    if response.status_code != 200:
        raise PipelineError(
            f"Label Studio at {connection.url} answered {response.status_code} while {what}: "
            "restart it with `coding-pipeline server stop STUDY` and `server start STUDY` so it "
            "runs this version's settings."
        )
    return response.json()


def list_spaces(connection: Connection) -> dict[str, Space]:
    """Every coder's space on the server: coder email -> space."""
    data = _request(connection, "GET", "listing the coders' spaces")
    return {space.coder: space for space in map(_space, data["spaces"])}


def ensure_space(connection: Connection, coder: str, projects: list[int] | None = None) -> Space:
    """The coder's space, made if needed; projects listed are moved into it (for projects made
    before the server kept spaces)."""
    data = _request(connection, "POST", f"making the space of {coder}",
                    {"coder": coder.lower(), "projects": list(projects or [])})
    return _space(data)


def in_space(connection: Connection, space_id: int | str | None) -> Connection:
    """The same admin connection acting in one coder's space ("" = the admin's own)."""
    return connection.in_space(space_id)


def invite_url(connection: Connection, space: Space) -> str:
    """The sign-up link that makes the space's coder an account in that space only."""
    return f"{connection.url}/user/signup/?token={space.token}"
