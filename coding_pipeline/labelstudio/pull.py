"""Pull: export every project, keep the raw exports, and rebuild STUDY/ratings.csv.

Never lose a rating:
- every project's raw JSON export is saved as exports/<timestamp>_project<id>.json and never
  overwritten (an export identical to the last one saved for that project is not saved again);
- everything is fetched before anything is written, so a failed pull (server down, bad token,
  project deleted) leaves every file as it was;
- ratings.csv is rewritten atomically, and only when its content changes;
- skipped annotations are recorded as status `skipped` (no item, no value); values outside the
  item's scale as status `out_of_scale` and reported; annotations deleted on the server are
  reported as removed (they stay in the raw exports);
- problems are summarised, one line per kind with a count and a few examples; the full list is
  saved as exports/<timestamp>_problems.txt (not again while it stays the same);
- a project made with an earlier scheme version is read with that version's copy in
  STUDY/schemes/ (kept by push) when there is one.

Tamper-evident: an annotation created or last updated by anyone other than the project's coder
(or a coder assigned that clip in that batch as consensus coder) is reported on its own line (who
changed whose rating of which clip, when), listed in the problems file, and never taken as the
coder's rating: ratings.csv keeps the coder's own last version of it from the raw exports saved
before, or leaves it out when there is none. A project or annotation deleted on the server loses
nothing pulled before: its rows are carried over from the previous ratings.csv (and reported).

`ratings_from_export`, `foreign_annotations`, `keep_coders_own` and `compare_ratings` are pure;
`pull_study` does the I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import connect, member_emails
from coding_pipeline.labelstudio.config import NOTES_NAME
from coding_pipeline.labelstudio.push import (
    export_project_raw,
    projects_csv,
    read_projects,
    server_projects,
)
from coding_pipeline.labelstudio.spaces import has_spaces, in_space, list_spaces
from coding_pipeline.scheme import Scheme, load_scheme
from coding_pipeline.study import (
    Study,
    atomic_path,
    read_table,
    write_csv_atomic,
    write_text_atomic,
)

RATINGS_COLUMNS = [
    "clip_id", "coder", "item", "value", "annotation_id", "project", "batch", "role", "status",
    "created_at", "updated_at", "lead_time", "scheme_version", "notes",
]


@dataclass
class Changes:
    """Annotations new, updated and removed since the last pull (lists of annotation ids)."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.new or self.updated or self.removed)


PROBLEM_EXAMPLES = 5


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


@dataclass
class PullReport:
    """What a pull found and wrote."""

    url: str
    projects: int = 0
    annotations: int = 0
    skipped: int = 0
    changes: Changes = field(default_factory=Changes)
    problems: list[Problem] = field(default_factory=list)
    problems_file: Path | None = None
    exports_saved: list[Path] = field(default_factory=list)
    ratings_written: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def new(self) -> int:
        return len(self.changes.new)

    @property
    def updated(self) -> int:
        return len(self.changes.updated)

    @property
    def removed(self) -> int:
        return len(self.changes.removed)

    def __str__(self) -> str:
        head = (
            f"{self.projects} project(s), {self.annotations} annotation(s) "
            f"({self.skipped} skipped): {self.new} new, {self.updated} updated, "
            f"{self.removed} removed on the server"
        )
        if not self.changes.any:
            head += "; nothing changed"
        lines = [head]
        if self.changes.removed:
            lines.append(
                "  removed on the server (kept in ratings.csv and the raw exports): annotation(s) "
                + ", ".join(self.changes.removed[:10])
                + (" ..." if len(self.changes.removed) > 10 else "")
            )
        lines += [f"  CHANGED BY SOMEONE ELSE: {problem}" for problem in self.problems
                  if problem.kind == FOREIGN_KIND]
        lines += summarise_problems(self.problems, self.problems_file)
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------- pure parts


def _coder_email(completed_by, emails: dict[int, str]) -> str:
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or emails.get(int(completed_by.get("id", -1)), ""))
    try:
        return emails.get(int(completed_by), f"user {completed_by}")
    except (TypeError, ValueError):
        return f"user {completed_by}"


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


def ratings_from_export(
    tasks: list[dict], project: dict, emails: dict[int, str], scheme: Scheme,
    roles: dict[tuple[str, str, str], str],
) -> tuple[list[dict], list[Problem]]:
    """Rows of ratings.csv from one project's JSON export, and problems found on the way.

    `project` is the project's projects.csv row; `roles` maps (batch, clip_id, coder) to the
    role of the assignment. One row per rated item; one row (no item, no value) per skipped
    annotation; a value outside the item's scale gets status `out_of_scale` and a problem.
    """
    rows: list[dict] = []
    problems: list[Problem] = []
    scales = {item.id: item.scale for item in scheme.items}
    batch = project["batch"]
    where = f"project {project['project_id']}"
    for task in tasks:
        clip_id = str(task.get("data", {}).get("clip_id", ""))
        for annotation in task.get("annotations", []):
            coder = _coder_email(annotation.get("completed_by"), emails)
            results = annotation.get("result") or []
            notes = " ".join(
                " ".join(r.get("value", {}).get("text", []))
                for r in results if r.get("from_name") == NOTES_NAME
            ).strip()
            base = {
                "clip_id": clip_id, "coder": coder, "annotation_id": str(annotation["id"]),
                "project": str(project["project_id"]), "batch": batch,
                "role": roles.get((batch, clip_id, coder), ""),
                "created_at": annotation.get("created_at") or "",
                "updated_at": annotation.get("updated_at") or "",
                "lead_time": "" if annotation.get("lead_time") is None
                else f"{float(annotation['lead_time']):.3f}",
                "scheme_version": str(project["scheme_version"]), "notes": notes,
            }
            if (batch, clip_id, coder) not in roles:
                problems.append(Problem(
                    "annotation by a coder not assigned the clip (kept, with no role)",
                    clip_id, coder, "", "",
                    f"{where}, clip {clip_id}: annotation {annotation['id']} is by {coder}, "
                    "who is not assigned this clip in this batch (kept, with no role)."
                ))
            if annotation.get("was_cancelled"):
                rows.append({**base, "item": "", "value": "", "status": "skipped"})
                continue
            for result in results:
                item_id = result.get("from_name")
                if item_id == NOTES_NAME:
                    continue
                if item_id not in scales:
                    problems.append(Problem(
                        f"control not an item of scheme {scheme.name} (left out)",
                        clip_id, coder, str(item_id), "",
                        f"{where}, clip {clip_id}, annotation {annotation['id']}: control "
                        f"'{item_id}' is not an item of scheme {scheme.name} (left out)."
                    ))
                    continue
                raw, problem, kind = _result_value(result)
                status = "rated"
                scale = scales[item_id]
                if problem is None:
                    try:
                        number = float(raw)
                    except ValueError:
                        number = None
                    if number is None or not number.is_integer():
                        problem = f"value '{raw}' is not a point of the scale"
                        kind = "unreadable value"
                    elif not scale.min <= number <= scale.max:
                        problem = f"value '{raw}' is outside the scale {scale.min}-{scale.max}"
                        kind = "value outside the scale"
                    else:
                        raw = str(int(number))
                if problem is not None:
                    status = "out_of_scale"
                    problems.append(Problem(
                        f"{kind} (kept with status out_of_scale)", clip_id, coder, item_id, raw,
                        f"{where}, clip {clip_id}, coder {coder}, annotation {annotation['id']}, "
                        f"item {item_id}: {problem} (kept with status out_of_scale)."
                    ))
                rows.append({**base, "item": item_id, "value": raw, "status": status})
    return rows, problems


def _by_annotation(table: pd.DataFrame) -> dict[str, list[tuple]]:
    grouped: dict[str, list[tuple]] = {}
    columns = [c for c in RATINGS_COLUMNS if c in table.columns]
    key = columns.index("annotation_id")
    for row in table[columns].itertuples(index=False, name=None):
        grouped.setdefault(str(row[key]), []).append(row)
    return {key: sorted(rows) for key, rows in grouped.items()}


def compare_ratings(old: pd.DataFrame, new: pd.DataFrame) -> Changes:
    """Which annotations are new, updated (any row differs) or removed, old -> new."""
    before, after = _by_annotation(old), _by_annotation(new)
    return Changes(
        new=sorted((a for a in after if a not in before), key=_numeric),
        updated=sorted((a for a in after if a in before and before[a] != after[a]),
                       key=_numeric),
        removed=sorted((a for a in before if a not in after), key=_numeric),
    )


def _numeric(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (0, text)


FOREIGN_KIND = "rating changed by someone other than the project's coder (not taken as theirs)"
ALLOWED_ROLES = ("consensus",)  # besides the project's coder, who may write in a project


def _user_email(user, emails: dict[int, str]) -> str:
    if user is None or user == "":
        return ""
    return _coder_email(user, emails)


def foreign_annotations(
    tasks: list[dict], project: dict, emails: dict[int, str],
    roles: dict[tuple[str, str, str], str],
) -> dict[str, dict]:
    """Annotations of a project created or last updated by anyone but the project's coder (or
    a consensus coder assigned that clip): annotation id -> clip, coder, by, author, when."""
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
            author = _user_email(annotation.get("completed_by"), emails).lower()
            editor = _user_email(annotation.get("updated_by"), emails).lower() or author
            if author in allowed and editor in allowed:
                continue
            outsider = editor if editor not in allowed else author
            found[str(annotation["id"])] = {
                "clip": clip_id, "coder": coder, "by": outsider, "author": author,
                "when": annotation.get("updated_at") or annotation.get("created_at") or "",
                "created": outsider == author,
            }
    return found


def _single(task: dict, annotation: dict) -> list[dict]:
    return [{**task, "annotations": [annotation]}]


def keep_coders_own(
    rows: list[dict], foreign: dict[str, dict], history: list[tuple[str, list[dict]]],
    project: dict, emails: dict[int, str], scheme: Scheme,
    roles: dict[tuple[str, str, str], str],
) -> tuple[list[dict], list[Problem]]:
    """The project's rows with every foreign annotation's rows replaced by the coder's own last
    version of it from `history` (saved exports, oldest first, as (name, tasks)), or left out;
    and one problem per foreign annotation (pure)."""
    kept = [row for row in rows if row["annotation_id"] not in foreign]
    problems = []
    for annotation_id, change in foreign.items():
        own, source = [], ""
        for name, tasks in reversed(history):
            for task in tasks:
                for annotation in task.get("annotations", []):
                    if str(annotation.get("id")) != annotation_id:
                        continue
                    if annotation_id in foreign_annotations(
                            _single(task, annotation), project, emails, roles):
                        continue
                    own, _ = ratings_from_export(
                        _single(task, annotation), project, emails, scheme, roles)
                    source = name
            if source:
                break
        kept.extend(own)
        action = "created" if change["created"] else "changed"
        kept_text = (f"ratings.csv keeps {change['coder']}'s own last version from {source}"
                     if source else f"ratings.csv has no rating of it by {change['coder']}")
        problems.append(Problem(
            FOREIGN_KIND, change["clip"], change["coder"], "", "",
            f"project {project['project_id']}, clip {change['clip']}: {change['by'] or 'someone'}"
            f" {action} {change['coder']}'s rating (annotation {annotation_id}) at "
            f"{change['when'] or 'an unknown time'}; not taken as {change['coder']}'s rating, "
            f"{kept_text}."
        ))
    return kept, problems


def carried_over(
    old: pd.DataFrame, on_server: set[str], project_ids: set[str],
) -> pd.DataFrame:
    """Rows of the previous ratings.csv whose annotation is no longer on the server (deleted
    there, or its project deleted), for projects still in projects.csv (pure)."""
    gone = ~old["annotation_id"].isin(on_server) & old["project"].isin(project_ids)
    return old[gone]


# ---------------------------------------------------------------- pull


def _read_old_ratings(path: Path, notes: list[str]) -> pd.DataFrame:
    """The ratings.csv of the last pull; a damaged one is noted and rebuilt from the server."""
    if not path.is_file():
        return pd.DataFrame(columns=RATINGS_COLUMNS)
    try:
        table = read_table(path, [], "", written=True)
    except PipelineError as exc:
        notes.append(f"{exc} It was rebuilt from the server, so every annotation counts as new.")
        return pd.DataFrame(columns=RATINGS_COLUMNS)
    for column in RATINGS_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    return table[RATINGS_COLUMNS]


def _last_export_digest(exports_dir: Path, project_id: str) -> str | None:
    saved = sorted(exports_dir.glob(f"*_project{project_id}.json"))
    if not saved:
        return None
    return hashlib.sha256(saved[-1].read_bytes()).hexdigest()


def _export_path(exports_dir: Path, stamp: str, project_id: str) -> Path:
    path = exports_dir / f"{stamp}_project{project_id}.json"
    number = 1
    while path.exists():
        number += 1
        path = exports_dir / f"{stamp}-{number}_project{project_id}.json"
    return path


def project_scheme(study: Study, record: pd.Series, current: Scheme) -> Scheme:
    """The scheme a project was made with: the current one, or push's copy of an earlier one."""
    if record["scheme_hash"] == current.content_hash:
        return current
    copy = study.root / "schemes" / (
        f"{record['scheme_name']}-v{record['scheme_version']}-{record['scheme_hash']}.yaml")
    return load_scheme(copy) if copy.is_file() else current


def _save_problems(exports_dir: Path, stamp: str, problems: list[Problem]) -> Path | None:
    """Write the full list of problems, unless the last list saved is the same; return its path."""
    if not problems:
        return None
    text = "".join(f"{problem}\n" for problem in problems)
    saved = sorted(exports_dir.glob("*_problems.txt"))
    if saved and saved[-1].read_text(encoding="utf-8") == text:
        return saved[-1]
    path = exports_dir / f"{stamp}_problems.txt"
    write_text_atomic(path, text)
    return path


def _saved_exports(exports_dir: Path, project_id: str) -> list[tuple[str, list[dict]]]:
    """The raw exports of a project saved by earlier pulls, oldest first, parsed."""
    saved = []
    for path in sorted(exports_dir.glob(f"*_project{project_id}.json")):
        try:
            saved.append((f"exports/{path.name}", json.loads(path.read_bytes())))
        except ValueError:
            continue  # a damaged copy: the others still count
    return saved


def _gone_problem(record: pd.Series, url: str) -> Problem:
    return Problem(
        "project not on the server any more (its ratings pulled before are kept)",
        "", str(record["coder"]), "", "",
        f"project {record['project_id']} ('{record['title']}') is not on {url} any more: the "
        "ratings pulled from it before are kept in ratings.csv, and its raw exports in exports/.",
    )


def _kept_problem(kept: pd.DataFrame) -> Problem:
    ids = sorted(set(kept["annotation_id"]), key=_numeric)
    listed = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
    return Problem(
        "annotation deleted on the server (its ratings pulled before are kept)",
        "", "", "", "",
        f"{len(ids)} annotation(s) pulled before are no longer on the server ({listed}): their "
        "ratings are kept in ratings.csv as pulled. If a deletion was meant, remove those rows "
        "from ratings.csv (the raw exports in exports/ keep them).",
    )


def pull_study(
    study: Study, url: str | None = None, token: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> PullReport:
    """Export every project in projects.csv and rebuild ratings.csv; report what changed."""
    say = progress or (lambda _line: None)
    records = read_projects(study)
    if records.empty:
        raise PipelineError(
            f"{projects_csv(study)} lists no projects: push first "
            f"(`coding-pipeline push {study.root}`)."
        )
    scheme = load_scheme(study.scheme_path)
    connection = connect(study, url, token)
    on_server = server_projects(connection)
    emails = member_emails(connection)
    space_of: dict[int, int] = {}
    if has_spaces(study, connection):
        for space in list_spaces(connection).values():
            on_server |= space.projects
            emails |= space.members
            space_of |= dict.fromkeys(space.projects, space.id)
    gone = [r for _, r in records.iterrows() if int(r["project_id"]) not in on_server]
    if len(gone) == len(records):
        names = ", ".join(f"{r['project_id']} ('{r['title']}')" for r in gone[:3])
        raise PipelineError(
            f"Project(s) {names} in {projects_csv(study)} are not on {connection.url}; nothing "
            "was changed. Check the URL; if a project was deleted on purpose, remove its row "
            "from projects.csv (its ratings stay in exports/)."
        )
    notes: list[str] = []
    old = _read_old_ratings(study.ratings_csv, notes)
    unlisted = sorted(set(old["project"]) - set(records["project_id"]) - {""}, key=_numeric)
    still_there = [p for p in unlisted if p.isdigit() and int(p) in on_server]
    if still_there:
        raise PipelineError(
            f"{study.ratings_csv} holds ratings of project(s) {', '.join(still_there[:5])}, which "
            f"are on {connection.url} but not in {projects_csv(study)}: projects.csv was "
            "damaged or rows were removed. Restore it from a backup, or run `coding-pipeline "
            f"push {study.root}` to record those projects again, then pull. Nothing was changed."
        )
    assignments = batches.load_assignments(study)
    roles = {
        (str(a.batch), str(a.clip_id), str(a.coder)): str(a.role)
        for a in assignments.itertuples(index=False)
    }
    report = PullReport(url=connection.url, projects=len(records), notes=notes)
    exports: list[tuple[str, bytes]] = []
    rows: list[dict] = []
    annotations_on_server: set[str] = set()
    for _, record in records.iterrows():
        project_id = int(record["project_id"])
        if project_id not in on_server:
            report.problems.append(_gone_problem(record, connection.url))
            continue
        raw = export_project_raw(in_space(connection, space_of.get(project_id, "")), project_id)
        exports.append((record["project_id"], raw))
        tasks = json.loads(raw)
        project_scheme_ = project_scheme(study, record, scheme)
        project_rows, problems = ratings_from_export(tasks, record, emails, project_scheme_, roles)
        foreign = foreign_annotations(tasks, record, emails, roles)
        if foreign:
            project_rows, tampered = keep_coders_own(
                project_rows, foreign, _saved_exports(study.exports_dir, record["project_id"]),
                record, emails, project_scheme_, roles)
            problems = tampered + problems
        annotations_on_server |= {str(a["id"]) for t in tasks for a in t.get("annotations", [])}
        rows.extend(project_rows)
        report.problems.extend(problems)
        say(f"  {record['title']}: {len({r['annotation_id'] for r in project_rows})} annotations")
    new = pd.DataFrame(rows, columns=RATINGS_COLUMNS).astype(str)
    report.changes = compare_ratings(old, new)
    kept = carried_over(old, annotations_on_server, set(records["project_id"]))
    if not kept.empty:
        report.problems.append(_kept_problem(kept))
        new = pd.concat([new, kept], ignore_index=True)
    report.annotations = new["annotation_id"].nunique()
    report.skipped = int((new["status"] == "skipped").sum())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    study.exports_dir.mkdir(parents=True, exist_ok=True)
    for project_id, payload in exports:
        digest = hashlib.sha256(payload).hexdigest()
        if _last_export_digest(study.exports_dir, project_id) == digest:
            continue
        path = _export_path(study.exports_dir, stamp, project_id)
        with atomic_path(path) as temp:
            temp.write_bytes(payload)
        report.exports_saved.append(path)
    report.problems_file = _save_problems(study.exports_dir, stamp, report.problems)
    if report.changes.any or not study.ratings_csv.is_file() or notes:
        write_csv_atomic(study.ratings_csv, new, record=True)
        report.ratings_written = True
    return report
