"""Push: one Label Studio project per (batch, coder), holding that coder's clips in queue order.

Blinding: a task's data are only the clip's video URL, its opaque clip id and its frame rate.
Project titles name the batch and the coder's email; nothing names a family, arm, timepoint or
source file. Every project is recorded in STUDY/projects.csv (never a token).

Idempotent: a project is found again by its projects.csv row or its title, its tasks are read
back, and only clips not yet there are imported.

Schemes: a project keeps the scheme (name, version, content hash) it was created with, recorded in
projects.csv, and a batch the scheme in force when it was first pushed. After the scheme file gets
a new version, projects made earlier are left alone (coders may finish them) and projects made
from then on use the new one. A scheme whose content changed under the same name and version is
refused: ratings labelled with one version must all mean the same thing. Each scheme pushed is
kept as STUDY/schemes/<name>-v<version>-<hash>.yaml, so an old one can be restored.

Coder spaces: on the study's own server each coder's projects are made in that coder's own
organisation (spaces.py), recorded in projects.csv's `space` column; nobody else (but the admin)
can open them. Projects recorded before the server kept spaces are moved into their coder's.

Training batches: on any other server Community edition cannot hide one project from another
member, so the master's project is created last and a note recommends that the master rates after
the trainees.

Consensus batches: their (batch, coder) project is made the same way, with the consensus labeling
config, and each task's data also hold the coders' ratings as shown to the consensus coder
("Coder 1 / Coder 2: 2 / 5", `consensus.shown_fields`): never a coder's name or a family's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from coding_pipeline import batches, consensus
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection, connect, own_clips_dir
from coding_pipeline.labelstudio.config import render_instructions, render_label_config
from coding_pipeline.labelstudio.s3 import ensure_s3_storage, upload_missing
from coding_pipeline.labelstudio.spaces import (
    Space,
    ensure_space,
    has_spaces,
    in_space,
    list_spaces,
)
from coding_pipeline.labelstudio.transport import ClipTransport, choose_transport, upload_clips
from coding_pipeline.scheme import Scheme, load_scheme
from coding_pipeline.study import (
    Study,
    read_clips,
    read_table,
    restore_advice,
    write_csv_atomic,
    write_text_atomic,
)

PROJECT_COLUMNS = [
    "batch", "coder", "project_id", "title", "scheme_name", "scheme_version", "scheme_hash",
    "created_at", "space",
]
OPTIONAL_PROJECT_COLUMNS = ["space"]  # the coder's space (organisation id); "" on other servers
IMPORT_CHUNK = 1000


@dataclass
class PushReport:
    """What a push did."""

    url: str
    projects_created: int = 0
    projects_existing: int = 0
    tasks_imported: int = 0
    tasks_existing: int = 0
    clips_uploaded: int = 0
    clips: str = ""  # which way clips reach the server (ClipTransport.describe)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        uploaded = f"{self.clips_uploaded} clip(s) uploaded; " if self.clips_uploaded else ""
        summary = (
            f"{uploaded}{self.projects_created} project(s) created, {self.projects_existing} "
            f"already there; {self.tasks_imported} task(s) imported, {self.tasks_existing} "
            f"already there ({self.url})"
        )
        head = [self.clips] if self.clips else []
        return "\n".join([*head, summary, *(f"Note: {note}" for note in self.notes)])


# ---------------------------------------------------------------- pure parts


def project_title(batch: str, coder: str) -> str:
    """A project's title: the batch and the coder's email, nothing about families."""
    return f"{batch} - {coder}"


def local_file_url(path: Path, root: Path) -> str:
    """The URL Label Studio serves a local file at, for a file under the document root."""
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        raise PipelineError(
            f"{path} is outside the folder Label Studio serves local files from ({root}): "
            "keep the clips inside the study folder, or set [label_studio] document_root in "
            "study.toml to a folder that holds them."
        ) from None
    return "/data/local-files/?d=" + quote(relative.as_posix(), safe="/")


def task_data(clip_id: str, video_url: str, fps: float) -> dict:
    """A task's data: the video URL, the opaque clip id and the frame rate. Nothing else."""
    return {"video": video_url, "clip_id": clip_id, "fps": fps}


def with_consensus_fields(
    queues: dict[tuple[str, str], list[dict]], plans: list[batches.BatchPlan], scheme: Scheme,
) -> dict[tuple[str, str], list[dict]]:
    """The queues, with the ratings shown added to the tasks of consensus batches (pure)."""
    shown = {
        (plan.name, entry["clip_id"]): consensus.shown_fields(entry, scheme)
        for plan in plans if plan.kind == consensus.CONSENSUS_KIND
        for entry in plan.extra.get("disagreements", [])
    }
    return {
        (batch, coder): [{**task, **shown.get((batch, task["clip_id"]), {})} for task in queue]
        for (batch, coder), queue in queues.items()
    }


def missing_tasks(queue: list[dict], existing_clip_ids: Iterable[str]) -> list[dict]:
    """The tasks of a coder's queue (in order) whose clip is not in the project yet."""
    present = set(existing_clip_ids)
    return [task for task in queue if task["clip_id"] not in present]


def same_scheme(record: pd.Series, scheme: Scheme) -> bool:
    """True if the project of `record` was created with exactly this scheme (content hash)."""
    return record["scheme_hash"] == scheme.content_hash


def scheme_problem(record: pd.Series, scheme: Scheme, scheme_path: Path) -> str | None:
    """Why push must stop: the scheme's content changed under the project's name and version.

    None when the content is the same, or when the scheme has another name or version (then
    the project keeps its own scheme and new projects get the new one).
    """
    if same_scheme(record, scheme):
        return None
    if (record["scheme_name"], record["scheme_version"]) != (scheme.name, str(scheme.version)):
        return None
    version = record["scheme_version"]
    bumped = int(version) + 1 if str(version).isdigit() else f"{version}-2"
    return (
        f"project {record['project_id']} ('{record['title']}') was created with scheme "
        f"{record['scheme_name']} version {version}, and {scheme_path} still says version "
        f"{version} but its content has changed. Ratings of one version must all mean the same "
        f"thing: either restore the old file (a copy of each scheme pushed is in the study's "
        f"schemes/ folder), or set `version: {bumped}` in {scheme_path} and push again: "
        f"projects made so far keep version {version} and coders can finish them, and every "
        f"batch pushed from then on (`coding-pipeline batch create`) uses version {bumped}."
    )


def is_master_project(roles: Iterable[str]) -> bool:
    """True for the master coder's project of a training batch."""
    return "master" in set(roles)


def push_order(keys: list[tuple[str, str]], masters: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """(batch, coder) projects in push order: each batch's master projects last (pure)."""
    return sorted(keys, key=lambda key: (key in masters))


def training_note(batch_names: Iterable[str]) -> str:
    """The independence warning for training batches (Community cannot hide projects)."""
    names = ", ".join(sorted(set(batch_names)))
    return (
        f"training batch {names}: Label Studio Community edition cannot hide projects, so a "
        "trainee can open the master's project (and other trainees') and see their ratings. "
        "The master's project is pushed last; ask the master to rate after the trainees have "
        "finished, and ask everyone to open only their own project."
    )


def scheme_copy_path(study: Study, scheme: Scheme) -> Path:
    """Where push keeps a copy of a scheme it pushed: STUDY/schemes/<name>-v<ver>-<hash>.yaml."""
    return study.root / "schemes" / f"{scheme.name}-v{scheme.version}-{scheme.content_hash}.yaml"


# ---------------------------------------------------------------- projects.csv


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


# ---------------------------------------------------------------- push


def _coder_queues(study: Study, assignments: pd.DataFrame, transport: ClipTransport) -> dict:
    """(batch, coder) -> that coder's tasks in queue order; checks every clip file first.
    Uploaded clips get their URL when uploaded (`_import_missing`)."""
    clips = read_clips(study).set_index("clip_id")
    queues: dict[tuple[str, str], list[dict]] = {}
    problems: dict[str, str] = {}  # clip id -> problem, each clip once however many coders
    for (batch, coder), rows in assignments.groupby(["batch", "coder"], sort=False):
        queue = []
        for clip_id in rows.sort_values("order")["clip_id"]:
            if clip_id not in clips.index:
                problems[clip_id] = (
                    f"clip {clip_id} of batch {batch} is not in {study.clips_csv}")
                continue
            clip = clips.loc[clip_id]
            path = study.absolute(clip["file"])
            if not path.is_file():
                problems[clip_id] = f"clip {clip_id}: file {clip['file']} is missing"
                continue
            fps = float(clip["fps"]) if clip.get("fps", "") not in ("", None) else 25.0
            if transport.bucket:
                video = transport.bucket.url(path.name)
            elif transport.root:
                video = local_file_url(path, transport.root)
            else:
                video = ""
            queue.append(task_data(clip_id, video, round(fps, 6)))
        queues[(batch, coder)] = queue
    if problems:
        listed = list(problems.values())
        more = f" (and {len(listed) - 3} more clips)" if len(listed) > 3 else ""
        raise PipelineError(
            "; ".join(listed[:3]) + more
            + f". Nothing was pushed: rerun `coding-pipeline segment {study.root}`, which remakes "
            "each missing clip with the same id, then push again."
        )
    return queues


def server_projects(connection: Connection) -> dict[int, str]:
    """Every project on the server: id -> title."""
    projects = connection.call(
        "listing projects", lambda: list(connection.client.projects.list(page_size=1000)))
    return {int(p.id): str(p.title) for p in projects}


def existing_clip_ids(connection: Connection, project_id: int) -> list[str]:
    """The clip ids of a project's tasks, read back from the server in one export."""
    tasks = export_project(connection, project_id)
    return [str(task.get("data", {}).get("clip_id", "")) for task in tasks]


QUICK_EXPORT_PATH = "coding-pipeline/api/projects/{}/export/"
QUICK_EXPORT_HEADER = "x-coding-pipeline-export"


def export_project_raw(connection: Connection, project_id: int) -> bytes:
    """A project's full JSON export as the server sent it: every task with its annotations.

    The study's own server answers with its quick export (ls_site.views.export: the same
    annotations, in a few queries); any other Label Studio with its own JSON export.
    """
    def quick() -> bytes | None:
        http = connection.client._client_wrapper.httpx_client  # not an SDK endpoint
        response = http.request(QUICK_EXPORT_PATH.format(project_id), method="GET",
                                request_options={"max_retries": 0})
        if response.status_code == 200 and response.headers.get(QUICK_EXPORT_HEADER) == "1":
            return response.content
        return None

    def download() -> bytes:
        return b"".join(connection.client.projects.exports.download_sync(
            project_id, export_type="JSON", download_all_tasks=True))
    what = f"exporting project {project_id}"
    return connection.call(what, quick) or connection.call(what, download)


def export_project(connection: Connection, project_id: int) -> list[dict]:
    """A project's full JSON export, parsed: every task with its annotations (one request)."""
    return json.loads(export_project_raw(connection, project_id))


def _create_project(
    connection: Connection, title: str, batch: str, coder: str, scheme: Scheme, config: str,
) -> int:
    settings = {
        "title": title,
        "description": f"Coding batch {batch} for {coder}. "
                       f"Scheme: {scheme.name}, version {scheme.version}.",
        "label_config": config,
        "expert_instruction": render_instructions(scheme),
        "show_instruction": True,
        "show_skip_button": True,
        "enable_empty_annotation": False,
        "maximum_annotations": 1,
        "sampling": "Sequential sampling",
        "show_annotation_history": False,
        "is_published": True,
    }
    project = connection.call(f"creating project '{title}'",
                              lambda: connection.client.projects.create(**settings))
    return int(project.id)


def _ensure_local_storage(connection: Connection, project_id: int, folder: Path) -> None:
    """Register a local-files storage covering the clips folder (Label Studio serves only those)."""
    local = connection.client.import_storage.local
    storages = connection.call("listing storages", lambda: local.list(project=project_id))
    if any(str(s.path) == str(folder) for s in storages):
        return
    connection.call(
        f"registering {folder} as local storage (the server must be able to read it; for a "
        "server on another machine use its own storage)",
        lambda: local.create(
            project=project_id, path=str(folder), title="Study clips", use_blob_urls=False,
        ),
    )


def _recorded_project(
    study: Study, connection: Connection, record: pd.Series, on_server: dict[int, str],
) -> int:
    """The project a projects.csv row names, checked to exist."""
    project_id = int(record["project_id"])
    if project_id not in on_server:
        raise PipelineError(
            f"Project {project_id} ('{record['title']}') in {projects_csv(study)} is not on "
            f"{connection.url}: if it was deleted on purpose, delete its row from "
            "projects.csv and push again (a new, empty project is made)."
        )
    return project_id


def _refuse_changed_scheme(study: Study, records: pd.DataFrame, scheme: Scheme) -> None:
    """Stop before anything is sent if the scheme changed without a new version."""
    for _, record in records.iterrows():
        problem = scheme_problem(record, scheme, study.scheme_path)
        if problem:
            raise PipelineError(f"Push refused: {problem}")


def _keep_scheme_copy(study: Study, scheme: Scheme) -> None:
    """Keep a copy of the scheme file pushed, so a project's scheme can always be restored."""
    target = scheme_copy_path(study, scheme)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, study.scheme_path.read_text(encoding="utf-8"))


def _old_scheme_note(record: pd.Series, scheme: Scheme, missing: int, study: Study) -> str:
    return (
        f"project {record['project_id']} ('{record['title']}') uses scheme "
        f"{record['scheme_name']} version {record['scheme_version']} and lacks {missing} of its "
        f"clips; they were not imported because the study's scheme is now {scheme.name} version "
        f"{scheme.version}. To finish that project, restore its scheme from "
        f"{study.root / 'schemes'} into {study.scheme_path} and push again."
    )


def _adopt_or_create(
    study: Study, connection: Connection, title: str, batch: str, coder: str,
    on_server: dict[int, str], scheme: Scheme, config: str,
) -> tuple[int, bool]:
    """A project not in projects.csv: the server's one of that title (after a push that stopped
    before recording it), else a new one. Returns (project id, created)."""
    by_title = {name: pid for pid, name in on_server.items()}
    if title not in by_title:
        return _create_project(connection, title, batch, coder, scheme, config), True
    project_id = by_title[title]
    live = connection.call("reading a project",
                           lambda: connection.client.projects.get(id=project_id))
    if (live.label_config or "").strip() != config.strip():
        raise PipelineError(
            f"Push refused: project {project_id} ('{title}') on {connection.url} has a "
            f"different labeling config from the study's scheme, and {projects_csv(study)} "
            "does not record it. Rename or delete that project on the server, or restore the "
            "scheme it was made with."
        )
    return project_id, False


def _import_missing(
    connection: Connection, project_id: int, queue: list[dict],
    uploads: dict[str, Path] | None = None, report: PushReport | None = None,
) -> int:
    """Import the queue's tasks the project does not hold yet, in bulk; return how many.
    With `uploads` (clip id -> file), their clips are uploaded into the project first."""
    todo = missing_tasks(queue, existing_clip_ids(connection, project_id))
    if uploads is not None and todo:
        urls, uploaded = upload_clips(
            connection, project_id, {t["clip_id"]: uploads[t["clip_id"]] for t in todo})
        todo = [{**task, "video": urls[task["clip_id"]]} for task in todo]
        if report is not None:
            report.clips_uploaded += uploaded
    for start in range(0, len(todo), IMPORT_CHUNK):
        chunk = todo[start:start + IMPORT_CHUNK]
        connection.call(
            f"importing tasks into project {project_id}",
            lambda chunk=chunk: connection.client.projects.import_tasks(
                id=project_id, request=chunk, return_task_ids=True),
        )
    return len(todo)


def _coder_space(
    connection: Connection, coder: str, records: pd.DataFrame, on_server: dict[int, str],
    spaces: dict[str, Space],
) -> Space:
    """The coder's space (made once per push), holding the coder's projects recorded before the
    server kept spaces (they are moved into it)."""
    if coder not in spaces:
        earlier = [int(r["project_id"]) for _, r in records.iterrows()
                   if r["coder"] == coder and not r["space"] and int(r["project_id"]) in on_server]
        spaces[coder] = ensure_space(connection, coder, earlier)
    return spaces[coder]


def _record_space(study: Study, records: pd.DataFrame, coder: str, space: Space) -> pd.DataFrame:
    """projects.csv with the space of each of the coder's projects in that space filled in."""
    moved = (records["coder"] == coder) & (records["space"] != str(space.id)) & records[
        "project_id"].astype(int).isin(list(space.projects))
    if moved.any():
        records = records.copy()
        records.loc[moved, "space"] = str(space.id)
        write_csv_atomic(projects_csv(study), records[PROJECT_COLUMNS])
    return records


def push_study(
    study: Study, url: str | None = None, token: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> PushReport:
    """Create each (batch, coder) project once and import the clips it is missing."""
    say = progress or (lambda _line: None)
    scheme = load_scheme(study.scheme_path)
    configs = {False: render_label_config(scheme),
               True: render_label_config(scheme, consensus=True)}
    assignments = batches.load_assignments(study)
    if assignments.empty:
        raise PipelineError(
            f"No batch in {study.root / 'batches'}: plan one first with "
            f"`coding-pipeline batch create {study.root} --coders a@lab.org,b@lab.org`."
        )
    connection = connect(study, url, token)
    transport = choose_transport(study, connection.url)
    queues = with_consensus_fields(
        _coder_queues(study, assignments, transport), batches.load_batches(study), scheme)
    kinds = dict(zip(assignments["batch"], assignments["kind"], strict=True))
    report = PushReport(url=connection.url, clips=transport.describe())
    clips = read_clips(study).set_index("clip_id")
    files = {c: study.absolute(clips.loc[c, "file"]) for c in assignments["clip_id"].unique()}
    if transport.bucket:
        report.clips_uploaded = upload_missing(transport.bucket, sorted(set(files.values())))
    records = read_projects(study)
    _refuse_changed_scheme(study, records, scheme)
    on_server = server_projects(connection)
    spaced = has_spaces(study, connection)
    if spaced:
        on_server |= {pid: title for space in list_spaces(connection).values()
                      for pid, title in space.projects.items()}
    spaces: dict[str, Space] = {}
    masters = {
        key for key, rows in assignments.groupby(["batch", "coder"], sort=False)
        if is_master_project(rows["role"])
    }
    for batch, coder in push_order(list(queues), masters):
        queue = queues[(batch, coder)]
        config = configs[kinds[batch] == consensus.CONSENSUS_KIND]
        title = project_title(batch, coder)
        known = records[(records["batch"] == batch) & (records["coder"] == coder)]
        first_pushed = records[records["batch"] == batch]
        space_id = ""
        mine = on_server
        if spaced:
            space = _coder_space(connection, coder, records, on_server, spaces)
            space_id, mine = str(space.id), space.projects
            records = _record_space(study, records, coder, space)
        server = in_space(connection, space_id)
        if not known.empty:
            record = known.iloc[0]
            project_id = _recorded_project(study, server, record, on_server)
            report.projects_existing += 1
            if not same_scheme(record, scheme):
                missing = len(missing_tasks(queue, existing_clip_ids(server, project_id)))
                if missing:
                    report.notes.append(_old_scheme_note(record, scheme, missing, study))
                say(f"  {title}: left as it is (scheme version {record['scheme_version']})")
                continue
        elif not first_pushed.empty and not same_scheme(first_pushed.iloc[0], scheme):
            earlier = first_pushed.iloc[0]
            report.notes.append(
                f"batch {batch} was first pushed with scheme {earlier['scheme_name']} version "
                f"{earlier['scheme_version']}, so its project for {coder} was not made with "
                f"version {scheme.version}. To finish the batch, restore its scheme from "
                f"{study.root / 'schemes'} into {study.scheme_path} and push again."
            )
            continue
        else:
            project_id, created = _adopt_or_create(
                study, server, title, batch, coder, mine, scheme, config)
            report.projects_created += created
            report.projects_existing += not created
            row = {
                "batch": batch, "coder": coder, "project_id": str(project_id), "title": title,
                "scheme_name": scheme.name, "scheme_version": str(scheme.version),
                "scheme_hash": scheme.content_hash,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "space": space_id,
            }
            records = pd.concat([records, pd.DataFrame([row])], ignore_index=True)
            write_csv_atomic(projects_csv(study), records[PROJECT_COLUMNS])
        _keep_scheme_copy(study, scheme)
        if transport.bucket:
            ensure_s3_storage(server, project_id, transport.bucket)
        elif transport.root and own_clips_dir(study, connection.url) is None:
            # (the study's own server serves its clips itself, with no storage)
            _ensure_local_storage(server, project_id, study.clips_dir.resolve())
        imported = _import_missing(server, project_id, queue,
                                   files if transport.kind == "upload" else None, report)
        report.tasks_imported += imported
        report.tasks_existing += len(queue) - imported
        say(f"  {title}: {imported} imported, {len(queue) - imported} already there")
    training = assignments.loc[assignments["kind"] == "training", "batch"]
    if not training.empty and not spaced:  # in coder spaces nobody sees another's project
        report.notes.append(training_note(training))
    return report
