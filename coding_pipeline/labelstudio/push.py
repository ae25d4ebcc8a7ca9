"""Push: one Label Studio project per (batch, coder), holding that coder's clips in queue order.

Blinding: a task's data are only the clip's video URL, its opaque clip id and its frame rate.
Project titles name the batch and the coder's email; nothing names a family, arm, timepoint or
source file. Every project is recorded in STUDY/projects.csv (never a token; projects.py).

Idempotent: a project is found again by its projects.csv row or its title, its tasks are read
back, and only clips not yet there are imported.

Schemes: a project keeps the scheme it was created with, and a batch the scheme in force when
it was first pushed; a scheme changed under the same version is refused (project_schemes.py).

Clips reach the server by upload, as local files or from S3: the transport chosen
(transport.py) does what its way needs.

Coder spaces: on the study's own server each coder's projects are made in that coder's own
organisation (spaces.py), recorded in projects.csv's `space` column; nobody else (but the admin)
can open them. Projects recorded before the server kept spaces are moved into their coder's.

Training batches: on any other server Community edition cannot hide one project from another
member, so the master's project is created last and a note recommends that the master rates after
the trainees.

Interview batches (interviews.py): the same projects, with the transcript scheme's labeling
config and one task per interview (no file sent); every interview is checked for de-identification
leaks before anything is sent.

Consensus batches: their (batch, coder) project is made the same way, with the consensus labeling
config, and each task's data also hold the coders' ratings as shown to the consensus coder
("Coder 1 / Coder 2: 2 / 5", `consensus.shown_fields`): never a coder's name or a family's.
A consensus batch of interviews gets the interview consensus config the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from coding_pipeline import batches, consensus
from coding_pipeline.consensus import with_consensus_fields
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection, connect, local_files_root
from coding_pipeline.labelstudio.config import render_instructions, render_label_config
from coding_pipeline.labelstudio.interviews import (
    ProjectKind,
    interview_kind,
    interview_queues,
)
from coding_pipeline.labelstudio.project_schemes import (
    first_pushed_note,
    keep_scheme_copy,
    old_scheme_note,
    refuse_changed_scheme,
    same_scheme,
)
from coding_pipeline.labelstudio.projects import (
    PROJECT_COLUMNS as PROJECT_COLUMNS,  # kept importable from here for older callers
)
from coding_pipeline.labelstudio.projects import (
    ServerProjects,
    add_project,
    ensure_task_tab,
    existing_clip_ids,
    project_title,
    projects_csv,
    read_projects,
    server_projects,
    write_projects,
)
from coding_pipeline.labelstudio.spaces import Space, ensure_space
from coding_pipeline.labelstudio.transport import ClipTransport, choose_transport
from coding_pipeline.labelstudio.transport import (
    local_file_url as local_file_url,  # (older callers)
)
from coding_pipeline.scheme import Scheme, load_video_scheme
from coding_pipeline.study import Study, read_clips

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


def task_data(clip_id: str, video_url: str, fps: float) -> dict:
    """A task's data: the video URL, the opaque clip id and the frame rate. Nothing else."""
    return {"video": video_url, "clip_id": clip_id, "fps": fps}


def missing_tasks(queue: list[dict], existing_clip_ids: Iterable[str]) -> list[dict]:
    """The tasks of a coder's queue (in order) whose clip is not in the project yet."""
    present = set(existing_clip_ids)
    return [task for task in queue if task["clip_id"] not in present]


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


# ---------------------------------------------------------------- the coders' queues


def coder_queues(
    study: Study, clips: pd.DataFrame, assignments: pd.DataFrame, transport: ClipTransport,
) -> dict[tuple[str, str], list[dict]]:
    """(batch, coder) -> that coder's tasks in queue order; checks every clip file first
    (`clips`: clips.csv indexed by clip id). Uploaded clips get their URL when uploaded."""
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
            queue.append(task_data(clip_id, transport.video_url(path), round(fps, 6)))
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


# ---------------------------------------------------------------- one project


def _create_project(
    connection: Connection, title: str, batch: str, coder: str, kind: ProjectKind,
) -> int:
    scheme = kind.scheme
    settings = {
        "title": title,
        "description": f"Coding batch {batch} for {coder}. "
                       f"Scheme: {scheme.name}, version {scheme.version}.",
        "label_config": kind.config,
        "expert_instruction": kind.instructions,
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


def _import_missing(
    connection: Connection, project_id: int, queue: list[dict],
    transport: ClipTransport | None, files: dict[str, Path], report: PushReport,
) -> int:
    """Import the queue's tasks the project does not hold yet, in bulk, their clips placed by
    the transport first (uploads; no transport: interviews, no file); return how many."""
    todo = missing_tasks(queue, existing_clip_ids(connection, project_id))
    if transport is not None:
        todo, uploaded = transport.place(connection, project_id, todo, files)
        report.clips_uploaded += uploaded
    for start in range(0, len(todo), IMPORT_CHUNK):
        chunk = todo[start:start + IMPORT_CHUNK]
        connection.call(
            f"importing tasks into project {project_id}",
            lambda chunk=chunk: connection.client.projects.import_tasks(
                id=project_id, request=chunk, return_task_ids=True),
        )
    return len(todo)


@dataclass
class _Push:
    """What one push works with, opened once: the study, the connection and the transport,
    projects.csv as it grows, where the server lists projects, and the report."""

    study: Study
    connection: Connection
    transport: ClipTransport
    files: dict[str, Path]  # clip id -> file
    records: pd.DataFrame
    listed: ServerProjects
    report: PushReport
    say: Callable[[str], None]
    spaces: dict[str, Space] = field(default_factory=dict)

    def coder_space(self, coder: str) -> Space:
        """The coder's space (made once per push), holding the coder's projects recorded before
        the server kept spaces (they are moved into it, and projects.csv says so)."""
        if coder not in self.spaces:
            records = self.records
            earlier = [int(r["project_id"]) for _, r in records.iterrows() if r["coder"] == coder
                       and not r["space"] and int(r["project_id"]) in self.listed]
            self.spaces[coder] = ensure_space(self.connection, coder, earlier)
        space = self.spaces[coder]
        moved = (self.records["coder"] == coder) & (self.records["space"] != str(space.id)) & (
            self.records["project_id"].astype(int).isin(list(space.projects)))
        if moved.any():
            self.records = self.records.copy()
            self.records.loc[moved, "space"] = str(space.id)
            write_projects(self.study, self.records)
        return space

    def recorded_project(self, record: pd.Series) -> int:
        """The project a projects.csv row names, checked to exist."""
        project_id = int(record["project_id"])
        if project_id not in self.listed:
            raise PipelineError(
                f"Project {project_id} ('{record['title']}') in {projects_csv(self.study)} is "
                f"not on {self.connection.url}: if it was deleted on purpose, delete its row "
                "from projects.csv and push again (a new, empty project is made)."
            )
        return project_id

    def adopt_or_create(self, server: Connection, batch: str, coder: str,
                        mine: dict[int, str], kind: ProjectKind) -> int:
        """A project not in projects.csv: the server's one of that title (after a push that
        stopped before recording it), else a new one; recorded in projects.csv."""
        title = project_title(batch, coder)
        by_title = {name: pid for pid, name in mine.items()}
        if title in by_title:
            project_id = by_title[title]
            live = server.call("reading a project",
                               lambda: server.client.projects.get(id=project_id))
            if (live.label_config or "").strip() != kind.config.strip():
                raise PipelineError(
                    f"Push refused: project {project_id} ('{title}') on {server.url} has a "
                    f"different labeling config from the study's scheme, and "
                    f"{projects_csv(self.study)} does not record it. Rename or delete that "
                    "project on the server, or restore the scheme it was made with."
                )
            self.report.projects_existing += 1
        else:
            project_id = _create_project(server, title, batch, coder, kind)
            self.report.projects_created += 1
        self.records = add_project(self.study, self.records, batch, coder, project_id,
                                   kind.scheme, server.space)
        return project_id

    def project(self, batch: str, coder: str, queue: list[dict], kind: ProjectKind) -> None:
        """Make sure the coder's project of the batch exists and holds the queue's tasks."""
        title, scheme, report = project_title(batch, coder), kind.scheme, self.report
        server, mine = self.connection, self.listed.titles
        if self.connection.has_spaces:
            space = self.coder_space(coder)
            server, mine = self.connection.in_space(space.id), space.projects
        known = self.records[(self.records["batch"] == batch) & (self.records["coder"] == coder)]
        first_pushed = self.records[self.records["batch"] == batch]
        if not known.empty:
            record = known.iloc[0]
            project_id = self.recorded_project(record)
            report.projects_existing += 1
            if not same_scheme(record, scheme):
                missing = len(missing_tasks(queue, existing_clip_ids(server, project_id)))
                if missing:
                    report.notes.append(old_scheme_note(record, scheme, missing, self.study))
                self.say(f"  {title}: left as it is (scheme version {record['scheme_version']})")
                return
        elif not first_pushed.empty and not same_scheme(first_pushed.iloc[0], scheme):
            report.notes.append(
                first_pushed_note(first_pushed.iloc[0], batch, coder, scheme, self.study))
            return
        else:
            project_id = self.adopt_or_create(server, batch, coder, mine, kind)
        keep_scheme_copy(self.study, scheme, kind.scheme_path)
        ensure_task_tab(server, project_id)
        if kind.has_clips:
            self.transport.ready_project(server, project_id)
        imported = _import_missing(server, project_id, queue,
                                   self.transport if kind.has_clips else None, self.files, report)
        report.tasks_imported += imported
        report.tasks_existing += len(queue) - imported
        self.say(f"  {title}: {imported} imported, {len(queue) - imported} already there")


# ---------------------------------------------------------------- push


def _clip_kinds(study: Study, scheme: Scheme) -> dict[bool, ProjectKind]:
    """The project kinds of clip batches: coding and training (False), consensus (True)."""
    return {consensus_: ProjectKind(scheme, study.scheme_path,
                                    render_label_config(scheme, consensus=consensus_),
                                    render_instructions(scheme))
            for consensus_ in (False, True)}


def _clip_queues(
    study: Study, assignments: pd.DataFrame, transport: ClipTransport,
    plans: list[batches.BatchPlan], scheme: Scheme,
) -> tuple[dict[tuple[str, str], list[dict]], dict[str, Path]]:
    """The clip batches' queues (every clip file checked) and clip id -> file."""
    if assignments.empty:
        return {}, {}
    clips = read_clips(study).set_index("clip_id")
    queues = with_consensus_fields(coder_queues(study, clips, assignments, transport), plans,
                                   scheme)
    return queues, {c: study.absolute(clips.loc[c, "file"])
                    for c in assignments["clip_id"].unique()}


def push_study(
    study: Study, url: str | None = None, token: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> PushReport:
    """Create each (batch, coder) project once and import the clips (or interviews) it is
    missing."""
    scheme = load_video_scheme(study.scheme_path)
    clip_kinds = _clip_kinds(study, scheme)
    every = batches.load_assignments(study)
    if every.empty:
        raise PipelineError(
            f"No batch in {study.root / 'batches'}: plan one first with "
            f"`coding-pipeline batch create {study.root} --coders a@lab.org,b@lab.org`."
        )
    plans = batches.load_batches(study)
    interviews = {p.name for p in plans if batches.is_interview_batch(p)}
    of_interviews = every["batch"].isin(interviews)
    interview_tasks, interview_project = interview_queues(study, every[of_interviews], plans)
    interview_kinds = ({False: interview_project, True: interview_kind(study, consensus=True)[0]}
                       if interview_project is not None else {})
    connection = connect(study, url, token)
    transport = choose_transport(study, local_files_root(study, connection.own))
    queues, files = _clip_queues(study, every[~of_interviews], transport, plans, scheme)
    report = PushReport(url=connection.url, clips=transport.describe())
    report.clips_uploaded = transport.send(sorted(set(files.values())))
    records = read_projects(study)
    refuse_changed_scheme(study, records, scheme)
    if interview_project is not None:
        refuse_changed_scheme(study, records, interview_project.scheme,
                              interview_project.scheme_path)
    push = _Push(study, connection, transport, files, records, server_projects(connection),
                 report, progress or (lambda _line: None))
    kinds = dict(zip(every["batch"], every["kind"], strict=True))
    masters = {key for key, rows in every.groupby(["batch", "coder"], sort=False)
               if is_master_project(rows["role"])}
    queues |= interview_tasks
    for batch, coder in push_order(list(queues), masters):
        kind = (interview_kinds if batch in interviews else clip_kinds)[
            kinds[batch] == consensus.CONSENSUS_KIND]
        push.project(batch, coder, queues[(batch, coder)], kind)
    training = every.loc[every["kind"] == "training", "batch"]
    if not training.empty and not connection.has_spaces:  # in spaces nobody sees another's
        report.notes.append(training_note(training))
    return report
