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
- interview projects are read with the study's interview scheme; their "not codable" choice is
  a row with an empty value and status `not_codable`;
- a project made with an earlier scheme version is read with that version's copy in
  STUDY/schemes/ (kept by push) when there is one.

Never skip silently: a project of projects.csv that the server does not list where push made it
is looked up by its id. If the server still has it (someone moved it to another space, renamed
it or its coder's space), it is pulled and reported as moved; only a project the server says is
deleted is reported as not on the server any more. A project listed in another space than
projects.csv records, or under another title, is pulled and reported the same way.

Tamper-evident: an annotation created or last updated by anyone other than the project's coder
(or a coder assigned that clip in that batch as consensus coder) is reported on its own line
(which account changed whose rating of which clip, when: tamper.py), listed in the problems file,
and never taken as the coder's rating: ratings.csv keeps the coder's own last version of it from
the raw exports saved before, or leaves it out when there is none. A project or annotation
deleted on the server loses nothing pulled before: its rows are carried over from the previous
ratings.csv (and reported).

The pure parts are in annotations.py and tamper.py; `pull_study` does the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.annotations import (
    RATINGS_COLUMNS,
    Changes,
    Problem,
    Roles,
    carried_over,
    compare_ratings,
    numeric_order,
    ratings_from_export,
    summarise_problems,
)
from coding_pipeline.labelstudio.client import Connection, connect, member_emails
from coding_pipeline.labelstudio.project_schemes import project_scheme
from coding_pipeline.labelstudio.projects import (
    ServerProjects,
    export_project_raw,
    export_unlisted_project,
    projects_csv,
    read_projects,
    server_projects,
)
from coding_pipeline.labelstudio.pull_files import (
    read_old_ratings,
    save_exports,
    save_problems,
    saved_exports,
)
from coding_pipeline.labelstudio.tamper import FOREIGN_KIND, foreign_annotations, keep_coders_own
from coding_pipeline.scheme import Scheme, load_scheme
from coding_pipeline.study import (
    Study,
    write_csv_atomic,
)
from coding_pipeline.transcripts.inputs import interview_scheme

GONE_KIND = "project not on the server any more (its ratings pulled before are kept)"
MOVED_KIND = "project moved or renamed on the server (its ratings pulled as usual)"


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


# ---------------------------------------------------------------- problems of whole projects


def _gone_problem(record: pd.Series, url: str) -> Problem:
    return Problem(
        GONE_KIND, "", str(record["coder"]), "", "",
        f"project {record['project_id']} ('{record['title']}') is not on {url} any more (looked "
        "up by its id, the server says it does not exist): the ratings pulled from it before are "
        "kept in ratings.csv, and its raw exports in exports/.",
    )


def _moved_problem(record: pd.Series, what: str) -> Problem:
    return Problem(
        MOVED_KIND, "", str(record["coder"]), "", "",
        f"project {record['project_id']} ('{record['title']}') {what}. Its ratings were pulled "
        "as usual; find out on the server who did it (projects.csv keeps where push made it).",
    )


def _where_recorded(record: pd.Series) -> str:
    return f"coder space {record['space']}" if record["space"] else "the organisation's projects"


def _listing_problems(record: pd.Series, listed: ServerProjects, url: str) -> list[Problem]:
    """A listed project found in another space or under another title than push made it."""
    project_id, problems = int(record["project_id"]), []
    now = str(listed.space_of.get(project_id, ""))
    if record["space"] and now != record["space"]:
        where = f"coder space {now}" if now else "the admin's own organisation"
        problems.append(_moved_problem(
            record, f"is now in {where} on {url}, not in {_where_recorded(record)} where push "
            "made it: someone moved it"))
    if listed.titles[project_id] != record["title"]:
        problems.append(_moved_problem(
            record, f"is now titled '{listed.titles[project_id]}' on {url}: someone renamed it"))
    return problems


def _kept_problem(kept: pd.DataFrame) -> Problem:
    ids = sorted(set(kept["annotation_id"]), key=numeric_order)
    listed = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
    return Problem(
        "annotation deleted on the server (its ratings pulled before are kept)",
        "", "", "", "",
        f"{len(ids)} annotation(s) pulled before are no longer on the server ({listed}): their "
        "ratings are kept in ratings.csv as pulled. If a deletion was meant, remove those rows "
        "from ratings.csv (the raw exports in exports/ keep them).",
    )


# ---------------------------------------------------------------- pull


def _look_up_unlisted(
    connection: Connection, records: pd.DataFrame, listed: ServerProjects,
) -> dict[int, bytes | None]:
    """Project id -> export of each project of projects.csv the server does not list, looked up
    by its id (None: the server says it is deleted)."""
    return {pid: export_unlisted_project(connection, pid)
            for pid in map(int, records["project_id"]) if pid not in listed}


def _refuse_if_all_gone(
    study: Study, url: str, records: pd.DataFrame, unlisted: dict[int, bytes | None],
) -> None:
    gone = [r for _, r in records.iterrows() if unlisted.get(int(r["project_id"]), b"") is None]
    if len(gone) == len(records):
        names = ", ".join(f"{r['project_id']} ('{r['title']}')" for r in gone[:3])
        raise PipelineError(
            f"Project(s) {names} in {projects_csv(study)} are not on {url}; nothing "
            "was changed. Check the URL; if a project was deleted on purpose, remove its row "
            "from projects.csv (its ratings stay in exports/)."
        )


def _refuse_unrecorded(
    study: Study, url: str, old: pd.DataFrame, records: pd.DataFrame, listed: ServerProjects,
) -> None:
    """Stop when ratings.csv holds ratings of projects on the server that projects.csv lacks."""
    unlisted = sorted(set(old["project"]) - set(records["project_id"]) - {""}, key=numeric_order)
    still_there = [p for p in unlisted if p.isdigit() and int(p) in listed]
    if still_there:
        raise PipelineError(
            f"{study.ratings_csv} holds ratings of project(s) {', '.join(still_there[:5])}, which "
            f"are on {url} but not in {projects_csv(study)}: projects.csv was "
            "damaged or rows were removed. Restore it from a backup, or run `coding-pipeline "
            f"push {study.root}` to record those projects again, then pull. Nothing was changed."
        )


def _moved_members(
    connection: Connection, records: pd.DataFrame, unlisted: dict[int, bytes | None],
) -> dict[int, str]:
    """The members of the spaces that projects found by their id were made in (a renamed space
    is no longer listed, nor are its members): user id -> email."""
    spaces = {r["space"] for _, r in records.iterrows()
              if r["space"] and unlisted.get(int(r["project_id"])) is not None}
    emails: dict[int, str] = {}
    for space in sorted(spaces):
        emails |= member_emails(connection.in_space(space))
    return emails


def _fetch(
    connection: Connection, listed: ServerProjects, unlisted: dict[int, bytes | None],
    record: pd.Series,
) -> tuple[bytes | None, list[Problem]]:
    """A project's raw export (None when deleted) and what is wrong with where it is."""
    project_id, url = int(record["project_id"]), connection.url
    if project_id in listed:
        raw = export_project_raw(listed.connection_for(connection, project_id), project_id)
        return raw, _listing_problems(record, listed, url)
    raw = unlisted[project_id]
    if raw is None:
        return None, [_gone_problem(record, url)]
    return raw, [_moved_problem(record, (
        f"is no longer listed in {_where_recorded(record)} on {url}, but the server still has "
        "it: someone moved it or renamed its space; it was found by its id"))]


def _project_ratings(
    study: Study, record: pd.Series, tasks: list[dict], scheme: Scheme,
    emails: dict[int, str], roles: Roles, not_codable: str | None = None,
) -> tuple[list[dict], list[Problem]]:
    """One project's rows of ratings.csv (a foreign annotation replaced by the coder's own last
    version), and its problems; `not_codable`: the choice of interview projects kept as missing."""
    scheme = project_scheme(study, record, scheme)
    rows, problems = ratings_from_export(tasks, record, emails, scheme, roles, not_codable)
    foreign = foreign_annotations(tasks, record, emails, roles)
    if foreign:
        rows, tampered = keep_coders_own(
            rows, foreign, saved_exports(study.exports_dir, record["project_id"]),
            record, emails, scheme, roles, not_codable)
        problems = tampered + problems
    return rows, problems


def _schemes_by_batch(study: Study, scheme: Scheme):
    """batch -> (its current scheme, its not-codable choice): the interview scheme for batches
    of interviews, the study's scheme (no such choice) for the others."""
    interviews = {p.name for p in batches.load_batches(study) if batches.is_interview_batch(p)}
    transcript = interview_scheme(study) if interviews else None

    def of(batch: str) -> tuple[Scheme, str | None]:
        if transcript is not None and batch in interviews:
            return transcript.scheme, transcript.not_codable
        return scheme, None

    return of


def _write(
    study: Study, report: PullReport, old: pd.DataFrame, rows: list[dict],
    records: pd.DataFrame, on_server: set[str], exports: list[tuple[str, bytes]],
) -> None:
    """Compare with the last pull, carry over what the server lost, save the exports and the
    problems, and rewrite ratings.csv if anything changed."""
    new = pd.DataFrame(rows, columns=RATINGS_COLUMNS).astype(str)
    report.changes = compare_ratings(old, new)
    kept = carried_over(old, on_server, set(records["project_id"]))
    if not kept.empty:
        report.problems.append(_kept_problem(kept))
        new = pd.concat([new, kept], ignore_index=True)
    report.annotations = new["annotation_id"].nunique()
    report.skipped = int((new["status"] == "skipped").sum())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    study.exports_dir.mkdir(parents=True, exist_ok=True)
    report.exports_saved = save_exports(study.exports_dir, stamp, exports)
    report.problems_file = save_problems(study.exports_dir, stamp, report.problems)
    if report.changes.any or not study.ratings_csv.is_file() or report.notes:
        write_csv_atomic(study.ratings_csv, new, record=True)
        report.ratings_written = True


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
    listed = server_projects(connection)
    unlisted = _look_up_unlisted(connection, records, listed)
    _refuse_if_all_gone(study, connection.url, records, unlisted)
    report = PullReport(url=connection.url, projects=len(records))
    old = read_old_ratings(study.ratings_csv, report.notes)
    _refuse_unrecorded(study, connection.url, old, records, listed)
    emails = (member_emails(connection) | listed.members()
              | _moved_members(connection, records, unlisted))
    roles = {(str(a.batch), str(a.clip_id), str(a.coder)): str(a.role)
             for a in batches.load_assignments(study).itertuples(index=False)}
    schemes = _schemes_by_batch(study, scheme)
    exports: list[tuple[str, bytes]] = []
    rows: list[dict] = []
    on_server: set[str] = set()
    for _, record in records.iterrows():
        raw, problems = _fetch(connection, listed, unlisted, record)
        report.problems.extend(problems)
        if raw is None:
            continue
        exports.append((record["project_id"], raw))
        tasks = json.loads(raw)
        current, not_codable = schemes(record["batch"])
        project_rows, problems = _project_ratings(study, record, tasks, current, emails, roles,
                                                  not_codable)
        on_server |= {str(a["id"]) for t in tasks for a in t.get("annotations", [])}
        rows.extend(project_rows)
        report.problems.extend(problems)
        say(f"  {record['title']}: {len({r['annotation_id'] for r in project_rows})} annotations")
    _write(study, report, old, rows, records, on_server, exports)
    return report
