"""The study's Label Studio projects: STUDY/projects.csv, where the server keeps them, and their
exports. Shared by push, pull, status and simulate.

projects.csv has one row per (batch, coder) project push made (never a token): its id, title,
the scheme it was made with and, on the study's own server, the coder's space it was made in.

Exports: the study's own server answers with its quick export (ls_site.views.export: the same
annotations as Label Studio's JSON export, in a few queries, from any space); any other Label
Studio with its own JSON export.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection
from coding_pipeline.labelstudio.http import refusal
from coding_pipeline.labelstudio.spaces import Space, list_spaces
from coding_pipeline.scheme import Scheme
from coding_pipeline.study import Study, read_table, restore_advice, write_csv_atomic

PROJECT_COLUMNS = [
    "batch", "coder", "project_id", "title", "scheme_name", "scheme_version", "scheme_hash",
    "created_at", "space",
]
OPTIONAL_PROJECT_COLUMNS = ["space"]  # the coder's space (organisation id); "" on other servers
QUICK_EXPORT_PATH = "coding-pipeline/api/projects/{}/export/"
QUICK_EXPORT_HEADER = "x-coding-pipeline-export"


# ---------------------------------------------------------------- projects.csv


def project_title(batch: str, coder: str) -> str:
    """A project's title: the batch and the coder's email, nothing about families."""
    return f"{batch} - {coder}"


def projects_csv(study: Study) -> Path:
    return study.root / "projects.csv"


def read_projects(study: Study) -> pd.DataFrame:
    """STUDY/projects.csv, or an empty table with its columns; a damaged one stops push and
    pull before anything is written."""
    path = projects_csv(study)
    if not path.is_file():
        return pd.DataFrame(columns=PROJECT_COLUMNS)
    required = [c for c in PROJECT_COLUMNS if c not in OPTIONAL_PROJECT_COLUMNS]
    table = read_table(path, required, "", written=True)
    for column in OPTIONAL_PROJECT_COLUMNS:  # projects.csv written before the column existed
        if column not in table.columns:
            table[column] = ""
    for number, row in enumerate(table.itertuples(index=False), start=2):
        empty = [c for c in ("batch", "coder", "scheme_version", "scheme_hash")
                 if not getattr(row, c).strip()]
        if not row.project_id.isdigit() or empty:
            what = f"{', '.join(empty)} empty" if empty else f"project_id '{row.project_id}'"
            raise PipelineError(
                f"{path} is damaged: row {number} has {what}. {restore_advice(path)}")
    return table[PROJECT_COLUMNS]


def write_projects(study: Study, records: pd.DataFrame) -> None:
    """Rewrite STUDY/projects.csv (atomically) with `records`."""
    write_csv_atomic(projects_csv(study), records[PROJECT_COLUMNS])


def add_project(
    study: Study, records: pd.DataFrame, batch: str, coder: str, project_id: int,
    scheme: Scheme, space: int | str,
) -> pd.DataFrame:
    """projects.csv with a row for a project just made (or found again by its title), written."""
    row = {
        "batch": batch, "coder": coder, "project_id": str(project_id),
        "title": project_title(batch, coder), "scheme_name": scheme.name,
        "scheme_version": str(scheme.version), "scheme_hash": scheme.content_hash,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "space": str(space),
    }
    records = pd.concat([records, pd.DataFrame([row])], ignore_index=True)
    write_projects(study, records)
    return records


# ---------------------------------------------------------------- where the server keeps them


def org_projects(connection: Connection) -> dict[int, str]:
    """Every project of the organisation (or space) acted in: id -> title."""
    projects = connection.call(
        "listing projects", lambda: list(connection.client.projects.list(page_size=1000)))
    return {int(p.id): str(p.title) for p in projects}


@dataclass(frozen=True)
class ServerProjects:
    """The projects the server lists for us: in the admin's own organisation and, on the study's
    own server, in every coder's space."""

    titles: dict[int, str]  # project id -> title
    space_of: dict[int, int] = field(default_factory=dict)  # project id -> its coder's space
    spaces: dict[str, Space] = field(default_factory=dict)  # coder email -> space

    def __contains__(self, project_id: object) -> bool:
        return project_id in self.titles

    def members(self) -> dict[int, str]:
        """Every coder space's members: user id -> email."""
        return {uid: email for space in self.spaces.values()
                for uid, email in space.members.items()}

    def connection_for(self, connection: Connection, project_id: int) -> Connection:
        """`connection` acting where the project is listed (its space, or the own org)."""
        return connection.in_space(self.space_of.get(project_id, ""))


def server_projects(connection: Connection) -> ServerProjects:
    """Where the server lists the study's projects (one request, and one for the spaces)."""
    titles = org_projects(connection)
    spaces = list_spaces(connection) if connection.has_spaces else {}
    space_of: dict[int, int] = {}
    for space in spaces.values():
        titles |= space.projects
        space_of |= dict.fromkeys(space.projects, space.id)
    return ServerProjects(titles=titles, space_of=space_of, spaces=spaces)


# ---------------------------------------------------------------- exports


def _quick_export(connection: Connection, project_id: int, what: str) -> httpx.Response:
    return connection.http.request("GET", QUICK_EXPORT_PATH.format(project_id), what,
                                   check=False)


def _is_quick_export(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.headers.get(QUICK_EXPORT_HEADER) == "1"


def _download(connection: Connection, project_id: int, what: str) -> bytes:
    return connection.call(what, lambda: b"".join(connection.client.projects.exports.download_sync(
        project_id, export_type="JSON", download_all_tasks=True)))


def export_project_raw(connection: Connection, project_id: int) -> bytes:
    """A project's full JSON export as the server sent it: every task with its annotations."""
    what = f"exporting project {project_id}"
    quick = _quick_export(connection, project_id, what)
    return quick.content if _is_quick_export(quick) else _download(connection, project_id, what)


def export_project(connection: Connection, project_id: int) -> list[dict]:
    """A project's full JSON export, parsed: every task with its annotations (one request)."""
    return json.loads(export_project_raw(connection, project_id))


def existing_clip_ids(connection: Connection, project_id: int) -> list[str]:
    """The clip ids of a project's tasks, read back from the server in one export."""
    tasks = export_project(connection, project_id)
    return [str(task.get("data", {}).get("clip_id", "")) for task in tasks]


def export_unlisted_project(connection: Connection, project_id: int) -> bytes | None:
    """The export of a project the server does not list where push made it, looked up by its
    id wherever the server keeps it now; None only when the server says it is deleted.

    The study's own server's quick export finds a project in any space (the admin is its
    superuser) and answers 404 only for a project that does not exist; any other server is
    asked GET /api/projects/ID/ (404: deleted) before its usual export.
    """
    what = f"looking up project {project_id} by its id"
    quick = _quick_export(connection, project_id, what)
    if _is_quick_export(quick):
        return quick.content
    if connection.own is not None and quick.status_code == 404:
        return None
    found = connection.http.request("GET", f"api/projects/{project_id}/", what, check=False)
    if found.status_code == 404:
        return None
    if found.status_code >= 400:
        raise refusal(connection.url, what, found.status_code, found.text)
    return _download(connection, project_id, f"exporting project {project_id}")


def ensure_task_tab(connection: Connection, project_id: int) -> None:
    """Give the project a data manager tab if it has none. The data manager makes one the
    first time anyone opens a project without; coders may not (the study's server refuses them
    any change but their ratings), so the admin makes it here, before coders open it."""
    tabs = connection.http.request("GET", "api/dm/views/", f"listing the tabs of project "
                                   f"{project_id}", params={"project": project_id}).json()
    if not tabs:
        connection.http.request("POST", "api/dm/views/", f"adding a tab to project {project_id}",
                                json={"project": project_id, "data": {"title": "Tasks"}})
