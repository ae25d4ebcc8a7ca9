"""Ratings made or changed by anyone but the project's coder (pure: data in, data out).

An annotation in a coder's project is the coder's own only if both its author (`completed_by`)
and its last editor (`updated_by`) are that coder, or a coder assigned that clip in that batch as
consensus coder. Label Studio records in `updated_by` the account that sent the last request that
saved the annotation: when a member creates an annotation with `completed_by` set to someone
else, `completed_by` names the victim and `updated_by` the member who sent it (tasks/api.py
`perform_create`, tasks/models.py `Annotation.save`). So the account named in the report is the
last editor, or the author when the export names no editor.

Such an annotation is never taken as the coder's rating: `keep_coders_own` keeps the coder's own
last version of it from the raw exports saved before, or leaves it out, and reports it.
"""

from __future__ import annotations

from coding_pipeline.labelstudio.annotations import (
    Problem,
    Roles,
    ratings_from_export,
    user_email,
)
from coding_pipeline.scheme import Scheme

FOREIGN_KIND = "rating changed by someone other than the project's coder (not taken as theirs)"
ALLOWED_ROLES = ("consensus",)  # besides the project's coder, who may write in a project


def _account(user: object, emails: dict[int, str]) -> str:
    return "" if user is None or user == "" else user_email(user, emails).lower()


def foreign_annotations(
    tasks: list[dict], project: dict, emails: dict[int, str], roles: Roles,
) -> dict[str, dict]:
    """Annotations of a project created or last updated by anyone but the project's coder (or
    a consensus coder assigned that clip): annotation id -> clip, coder, by (the account that
    made the last request), author (whom the annotation names), when, created (by its author)."""
    coder = str(project["coder"]).lower()
    batch = project["batch"]
    others: dict[str, set[str]] = {}  # clip -> who else may write there
    for (b, clip, who), role in roles.items():
        if b == batch and role in ALLOWED_ROLES:
            others.setdefault(clip, set()).add(who)
    found = {}
    for task in tasks:
        clip_id = str(task.get("data", {}).get("clip_id", ""))
        allowed = {coder} | others.get(clip_id, set())
        for annotation in task.get("annotations", []):
            author = _account(annotation.get("completed_by"), emails)
            actor = _account(annotation.get("updated_by"), emails) or author
            if author in allowed and actor in allowed:
                continue
            found[str(annotation["id"])] = {
                "clip": clip_id, "coder": coder, "by": actor, "author": author,
                "when": annotation.get("updated_at") or annotation.get("created_at") or "",
                "created": actor == author,
            }
    return found


def _single(task: dict, annotation: dict) -> list[dict]:
    return [{**task, "annotations": [annotation]}]


def _own_version(
    annotation_id: str, history: list[tuple[str, list[dict]]], project: dict,
    emails: dict[int, str], scheme: Scheme, roles: Roles, not_codable: str | None = None,
) -> tuple[list[dict], str]:
    """The coder's own last version of an annotation in the saved exports (newest first): its
    rows and the export's name, or ([], "") when there is none."""
    for name, tasks in reversed(history):
        own, source = [], ""
        for task in tasks:
            for annotation in task.get("annotations", []):
                if str(annotation.get("id")) != annotation_id or annotation_id in (
                        foreign_annotations(_single(task, annotation), project, emails, roles)):
                    continue
                own, _ = ratings_from_export(
                    _single(task, annotation), project, emails, scheme, roles, not_codable)
                source = name
        if source:
            return own, source
    return [], ""


def _what_happened(change: dict, annotation_id: str) -> str:
    """Who did what to whose rating: the account that made the request comes first."""
    who = change["by"] or "someone"
    if change["created"]:
        return f"{who} created {change['coder']}'s rating (annotation {annotation_id})"
    if change["author"] in ("", change["coder"]):
        return f"{who} changed {change['coder']}'s rating (annotation {annotation_id})"
    return (f"{who} made or changed a rating in {change['coder']}'s project in the name of "
            f"{change['author']} (annotation {annotation_id})")


def keep_coders_own(
    rows: list[dict], foreign: dict[str, dict], history: list[tuple[str, list[dict]]],
    project: dict, emails: dict[int, str], scheme: Scheme, roles: Roles,
    not_codable: str | None = None,
) -> tuple[list[dict], list[Problem]]:
    """The project's rows with every foreign annotation's rows replaced by the coder's own last
    version of it from `history` (saved exports, oldest first, as (name, tasks)), or left out;
    and one problem per foreign annotation (pure)."""
    kept = [row for row in rows if row["annotation_id"] not in foreign]
    problems = []
    for annotation_id, change in foreign.items():
        own, source = _own_version(annotation_id, history, project, emails, scheme, roles,
                                   not_codable)
        kept.extend(own)
        kept_text = (f"ratings.csv keeps {change['coder']}'s own last version from {source}"
                     if source else f"ratings.csv has no rating of it by {change['coder']}")
        problems.append(Problem(
            FOREIGN_KIND, change["clip"], change["coder"], "", "",
            f"project {project['project_id']}, clip {change['clip']}: "
            f"{_what_happened(change, annotation_id)} at {change['when'] or 'an unknown time'}; "
            f"not taken as {change['coder']}'s rating, {kept_text}."
        ))
    return kept, problems
