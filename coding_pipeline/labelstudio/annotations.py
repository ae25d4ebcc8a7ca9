"""A project's exported annotations as rows of STUDY/ratings.csv, and the problems found in them
(pure: data in, data out).

One row per rated item; one row (no item, no value) per skipped annotation, status `skipped`; an
interview's "not codable" choice (the transcript scheme's `not_codable` text) is a row with an
empty value and status `not_codable`, never a number; a
value outside the item's scale is kept with status `out_of_scale` and reported. Problems are
summarised one line per kind, with a count and a few examples. `compare_ratings` says which
annotations are new, updated or removed since the last pull; `carried_over` keeps the rows of
annotations deleted on the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from coding_pipeline.labelstudio.config import NOTES_NAME
from coding_pipeline.scheme import Item, Scheme

RATINGS_COLUMNS = [
    "clip_id", "coder", "item", "value", "annotation_id", "project", "batch", "role", "status",
    "created_at", "updated_at", "lead_time", "scheme_version", "notes",
]
PROBLEM_EXAMPLES = 5
Roles = dict[tuple[str, str, str], str]  # (batch, clip_id, coder) -> role of the assignment


@dataclass(frozen=True)
class Problem:
    """One problem found in an export: its kind, where, and the full sentence."""

    kind: str
    clip: str
    coder: str
    item: str
    value: str
    text: str

    def __str__(self) -> str:
        return self.text

    def example(self) -> str:
        parts = [f"clip {self.clip}"] if self.clip else []
        parts += [self.coder] if self.coder else []
        parts += [f"item {self.item}"] if self.item else []
        parts += [f"value '{self.value}'"] if self.value else []
        return " ".join(parts) or self.text


def summarise_problems(problems: list[Problem], full_list: Path | None) -> list[str]:
    """One line per kind of problem: its count and up to PROBLEM_EXAMPLES examples (pure)."""
    by_kind: dict[str, list[Problem]] = {}
    for problem in problems:
        by_kind.setdefault(problem.kind, []).append(problem)
    lines = []
    for kind, found in by_kind.items():
        examples = "; ".join(p.example() for p in found[:PROBLEM_EXAMPLES])
        more = " ..." if len(found) > PROBLEM_EXAMPLES else ""
        lines.append(f"  problem: {len(found)} x {kind}, e.g. {examples}{more}")
    if problems and full_list is not None:
        lines.append(f"  every problem, one per line: {full_list}")
    return lines


def user_email(user: object, emails: dict[int, str]) -> str:
    """An export's user (an id, or a dict with email or id) as an email, else "user ID"."""
    if isinstance(user, dict):
        return str(user.get("email") or emails.get(int(user.get("id", -1)), ""))
    try:
        return emails.get(int(user), f"user {user}")
    except (TypeError, ValueError):
        return f"user {user}"


def _result_value(result: dict) -> tuple[str, str | None, str]:
    """The raw value of one result, and a problem and its kind, if any."""
    value = result.get("value", {})
    kind = result.get("type")
    if kind == "choices":
        chosen = value.get("choices") or []
        if len(chosen) != 1:
            return (",".join(map(str, chosen)), f"{len(chosen)} choices instead of one",
                    "not exactly one choice")
        return str(chosen[0]), None, ""
    if kind in ("rating", "number"):
        return str(value.get(kind, "")), None, ""
    return "", f"unexpected result type '{kind}'", "unexpected result type"


def _scale_value(result: dict, item: Item) -> tuple[str, str | None, str]:
    """A result's value as a point of the item's scale, or the raw value, a problem and its
    kind (not exactly one choice, unreadable, outside the scale)."""
    raw, problem, kind = _result_value(result)
    if problem is not None:
        return raw, problem, kind
    try:
        number = float(raw)
    except ValueError:
        number = None
    if number is None or not number.is_integer():
        return raw, f"value '{raw}' is not a point of the scale", "unreadable value"
    if not item.scale.min <= number <= item.scale.max:
        return (raw, f"value '{raw}' is outside the scale {item.scale.min}-{item.scale.max}",
                "value outside the scale")
    return str(int(number)), None, ""


def _context(task: dict, annotation: dict, project: dict, coder: str, roles: Roles) -> dict:
    """The columns every row of one annotation shares."""
    clip_id = str(task.get("data", {}).get("clip_id", ""))
    results = annotation.get("result") or []
    notes = " ".join(
        " ".join(r.get("value", {}).get("text", []))
        for r in results if r.get("from_name") == NOTES_NAME
    ).strip()
    return {
        "clip_id": clip_id, "coder": coder, "annotation_id": str(annotation["id"]),
        "project": str(project["project_id"]), "batch": project["batch"],
        "role": roles.get((project["batch"], clip_id, coder), ""),
        "created_at": annotation.get("created_at") or "",
        "updated_at": annotation.get("updated_at") or "",
        "lead_time": "" if annotation.get("lead_time") is None
        else f"{float(annotation['lead_time']):.3f}",
        "scheme_version": str(project["scheme_version"]), "notes": notes,
    }


def _annotation_rows(
    task: dict, annotation: dict, project: dict, emails: dict[int, str], scheme: Scheme,
    roles: Roles, not_codable: str | None = None,
) -> tuple[list[dict], list[Problem]]:
    """The rows and problems of one annotation."""
    coder = user_email(annotation.get("completed_by"), emails)
    base = _context(task, annotation, project, coder, roles)
    clip_id, where, number = base["clip_id"], f"project {project['project_id']}", annotation["id"]
    rows: list[dict] = []
    problems: list[Problem] = []
    if (project["batch"], clip_id, coder) not in roles:
        problems.append(Problem(
            "annotation by a coder not assigned the clip (kept, with no role)", clip_id, coder,
            "", "", f"{where}, clip {clip_id}: annotation {number} is by {coder}, who is not "
            "assigned this clip in this batch (kept, with no role)."))
    if annotation.get("was_cancelled"):
        return [{**base, "item": "", "value": "", "status": "skipped"}], problems
    items = {item.id: item for item in scheme.items}
    for result in annotation.get("result") or []:
        item_id = result.get("from_name")
        if item_id == NOTES_NAME:
            continue
        if item_id not in items:
            problems.append(Problem(
                f"control not an item of scheme {scheme.name} (left out)", clip_id, coder,
                str(item_id), "", f"{where}, clip {clip_id}, annotation {number}: control "
                f"'{item_id}' is not an item of scheme {scheme.name} (left out)."))
            continue
        if not_codable is not None and _result_value(result)[0] == not_codable:
            rows.append({**base, "item": item_id, "value": "", "status": "not_codable"})
            continue
        value, problem, kind = _scale_value(result, items[item_id])
        if problem is not None:
            problems.append(Problem(
                f"{kind} (kept with status out_of_scale)", clip_id, coder, item_id, value,
                f"{where}, clip {clip_id}, coder {coder}, annotation {number}, "
                f"item {item_id}: {problem} (kept with status out_of_scale)."))
        rows.append({**base, "item": item_id, "value": value,
                     "status": "rated" if problem is None else "out_of_scale"})
    return rows, problems


def ratings_from_export(
    tasks: list[dict], project: dict, emails: dict[int, str], scheme: Scheme, roles: Roles,
    not_codable: str | None = None,
) -> tuple[list[dict], list[Problem]]:
    """Rows of ratings.csv from one project's JSON export, and problems found on the way.

    `project` is the project's projects.csv row; `roles` maps (batch, clip_id, coder) to the
    role of the assignment. One row per rated item; one row (no item, no value) per skipped
    annotation; a value outside the item's scale gets status `out_of_scale` and a problem;
    the choice `not_codable` (interview projects) an empty value with status `not_codable`.
    """
    rows: list[dict] = []
    problems: list[Problem] = []
    for task in tasks:
        for annotation in task.get("annotations", []):
            found, noticed = _annotation_rows(task, annotation, project, emails, scheme, roles,
                                              not_codable)
            rows += found
            problems += noticed
    return rows, problems


@dataclass
class Changes:
    """Annotations new, updated and removed since the last pull (lists of annotation ids)."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.new or self.updated or self.removed)


def _by_annotation(table: pd.DataFrame) -> dict[str, list[tuple]]:
    grouped: dict[str, list[tuple]] = {}
    columns = [c for c in RATINGS_COLUMNS if c in table.columns]
    key = columns.index("annotation_id")
    for row in table[columns].itertuples(index=False, name=None):
        grouped.setdefault(str(row[key]), []).append(row)
    return {key: sorted(rows) for key, rows in grouped.items()}


def numeric_order(text: str) -> tuple[int, str]:
    """Sort key for annotation ids: by number, non-numbers first."""
    return (int(text), "") if text.isdigit() else (0, text)


def compare_ratings(old: pd.DataFrame, new: pd.DataFrame) -> Changes:
    """Which annotations are new, updated (any row differs) or removed, old -> new."""
    before, after = _by_annotation(old), _by_annotation(new)
    return Changes(
        new=sorted((a for a in after if a not in before), key=numeric_order),
        updated=sorted((a for a in after if a in before and before[a] != after[a]),
                       key=numeric_order),
        removed=sorted((a for a in before if a not in after), key=numeric_order),
    )


def carried_over(
    old: pd.DataFrame, on_server: set[str], project_ids: set[str],
) -> pd.DataFrame:
    """Rows of the previous ratings.csv whose annotation is no longer on the server (deleted
    there, or its project deleted), for projects still in projects.csv (pure)."""
    gone = ~old["annotation_id"].isin(on_server) & old["project"].isin(project_ids)
    return old[gone]
