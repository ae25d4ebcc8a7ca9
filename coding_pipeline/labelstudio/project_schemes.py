"""Which scheme each project keeps: a project keeps the scheme (name, version, content hash) it
was created with, recorded in projects.csv, and a batch the scheme in force when it was first
pushed.

After the scheme file gets a new version, projects made earlier are left alone (coders may
finish them) and projects made from then on use the new one. A scheme whose content changed
under the same name and version is refused: ratings labelled with one version must all mean the
same thing. Each scheme pushed is kept as STUDY/schemes/<name>-v<version>-<hash>.yaml, so an old
one can be restored, and pull reads a project's ratings with the scheme it was made with.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import Scheme, load_scheme
from coding_pipeline.study import Study, write_text_atomic


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


def refuse_changed_scheme(study: Study, records: pd.DataFrame, scheme: Scheme,
                          path: Path | None = None) -> None:
    """Stop before anything is sent if the scheme (read from `path`, default the study's
    scheme) changed without a new version."""
    for _, record in records.iterrows():
        problem = scheme_problem(record, scheme, path or study.scheme_path)
        if problem:
            raise PipelineError(f"Push refused: {problem}")


def scheme_copy_path(study: Study, scheme: Scheme) -> Path:
    """Where push keeps a copy of a scheme it pushed: STUDY/schemes/<name>-v<ver>-<hash>.yaml."""
    return study.root / "schemes" / f"{scheme.name}-v{scheme.version}-{scheme.content_hash}.yaml"


def keep_scheme_copy(study: Study, scheme: Scheme, path: Path | None = None) -> None:
    """Keep a copy of the scheme file pushed (`path`, default the study's scheme), so a
    project's scheme can always be restored."""
    target = scheme_copy_path(study, scheme)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, (path or study.scheme_path).read_text(encoding="utf-8"))


def project_scheme(study: Study, record: pd.Series, current: Scheme) -> Scheme:
    """The scheme a project was made with: the current one, or push's copy of an earlier one."""
    if record["scheme_hash"] == current.content_hash:
        return current
    copy = study.root / "schemes" / (
        f"{record['scheme_name']}-v{record['scheme_version']}-{record['scheme_hash']}.yaml")
    return load_scheme(copy) if copy.is_file() else current


def old_scheme_note(record: pd.Series, scheme: Scheme, missing: int, study: Study) -> str:
    """Push's note on a project of an earlier scheme version that lacks some of its clips."""
    return (
        f"project {record['project_id']} ('{record['title']}') uses scheme "
        f"{record['scheme_name']} version {record['scheme_version']} and lacks {missing} of its "
        f"clips; they were not imported because the study's scheme is now {scheme.name} version "
        f"{scheme.version}. To finish that project, restore its scheme from "
        f"{study.root / 'schemes'} into {study.scheme_path} and push again."
    )


def first_pushed_note(earlier: pd.Series, batch: str, coder: str, scheme: Scheme,
                      study: Study) -> str:
    """Push's note on a coder's project not made because its batch has an earlier scheme."""
    return (
        f"batch {batch} was first pushed with scheme {earlier['scheme_name']} version "
        f"{earlier['scheme_version']}, so its project for {coder} was not made with "
        f"version {scheme.version}. To finish the batch, restore its scheme from "
        f"{study.root / 'schemes'} into {study.scheme_path} and push again."
    )
