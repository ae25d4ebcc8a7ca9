"""Coding progress: per batch and coder, clips assigned, done (rated or skipped) and remaining."""

from __future__ import annotations

import pandas as pd

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.push import export_project, read_projects
from coding_pipeline.study import Study

STATUS_COLUMNS = ["batch", "coder", "assigned", "rated", "skipped", "remaining", "project"]


def progress_table(
    assignments: pd.DataFrame, projects: pd.DataFrame, done: dict[str, tuple[int, int]],
) -> pd.DataFrame:
    """One row per (batch, coder): assigned, rated, skipped and remaining clips (pure).

    `done` maps a project id to (tasks rated, tasks only skipped) in that project.
    """
    rows = []
    for (batch, coder), mine in assignments.groupby(["batch", "coder"], sort=False):
        record = projects[(projects["batch"] == batch) & (projects["coder"] == coder)]
        project = str(record.iloc[0]["project_id"]) if not record.empty else ""
        rated, skipped = done.get(project, (0, 0))
        assigned = int(mine["clip_id"].nunique())
        rows.append({
            "batch": batch, "coder": coder, "assigned": assigned, "rated": rated,
            "skipped": skipped, "remaining": max(assigned - rated - skipped, 0),
            "project": project or "not pushed",
        })
    return pd.DataFrame(rows, columns=STATUS_COLUMNS)


def task_progress(tasks: list[dict]) -> tuple[int, int]:
    """(tasks with a submitted annotation, tasks with only skipped ones) of one export (pure)."""
    rated = skipped = 0
    for task in tasks:
        annotations = task.get("annotations", [])
        if any(not a.get("was_cancelled") for a in annotations):
            rated += 1
        elif annotations:
            skipped += 1
    return rated, skipped


def study_status(study: Study, url: str | None = None, token: str | None = None) -> pd.DataFrame:
    """Progress of every batch and coder, read live from Label Studio."""
    assignments = batches.load_assignments(study)
    if assignments.empty:
        raise PipelineError(
            f"No batch yet in {study.root / 'batches'}: "
            f"`coding-pipeline batch create {study.root} --coders ...` plans one."
        )
    projects = read_projects(study)
    done: dict[str, tuple[int, int]] = {}
    if not projects.empty:
        connection = connect(study, url, token)
        for project_id in projects["project_id"]:
            done[str(project_id)] = task_progress(export_project(connection, int(project_id)))
    return progress_table(assignments, projects, done)


def format_status(table: pd.DataFrame) -> str:
    """The progress table as aligned plain text."""
    return table.to_string(index=False)
