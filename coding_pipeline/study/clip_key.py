"""The clip key, clips.csv: which opaque clip id is which dyad, timepoint and stretch of video.

It is the only link from clips to families, so reading it checks it against every other record
of the clips cut and given out: its saved copies, the finished sessions' manifests and the
coders' batches.
"""

from __future__ import annotations

import json
import re

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.batch_files import batch_clip_ids
from coding_pipeline.study.folder import Study
from coding_pipeline.study.recovery import latest_copy, restore_command
from coding_pipeline.study.tables import read_table

CLIP_ID = re.compile(r"^[0-9a-f]{12}$")  # secrets.token_hex(6), as `segment` names clips


def read_clips(study: Study) -> pd.DataFrame:
    """The clip key, clips.csv, checked against its history (see `check_clip_key`)."""
    if not study.clips_csv.is_file() and (problem := missing_clip_key(study)):
        raise PipelineError(problem)
    table = read_table(
        study.clips_csv, ["clip_id", "dyad_id", "timepoint", "file"],
        f"run `coding-pipeline segment {study.root}` first", written=True,
    )
    check_clip_key(study, table)
    return table


def missing_clip_key(study: Study) -> str | None:
    """What to say when clips.csv is gone but its copies say clips were cut."""
    latest = latest_copy(study.root)
    if latest is None or not latest[1]:
        return None
    return (f"{study.clips_csv} is missing, but its last copy lists {len(latest[1])} clips: "
            f"{restore_command(study.clips_csv, latest[0])}. Nothing was changed. (To start "
            "the study's clips over on purpose, move clips/, clips.csv and .segment/ out of "
            "the study.)")


def _finished_sessions(study: Study) -> list[tuple[str, set[str]]]:
    """The clip ids of each finished session, from its manifest in STUDY/.segment/."""
    sources: list[tuple[str, set[str]]] = []
    for manifest in sorted((study.root / ".segment").glob("*.json")):
        try:
            saved = json.loads(manifest.read_text(encoding="utf-8"))
            dyad, timepoint = saved["key"]
            done = set(saved["rows"]) if saved.get("complete") is True else set()
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a session not finished, or a manifest of an older version
        sources.append((f"the manifest of {dyad}/{timepoint} ({manifest.name})", done))
    return sources


def check_clip_key(study: Study, table: pd.DataFrame) -> None:
    """Stop when clips.csv lists fewer clips than its last copy, a finished session's manifest
    or the coders' batches say exist: the clip key is the only link from clips to families."""
    ids = set(table["clip_id"])
    latest = latest_copy(study.root)
    copy = latest[0] if latest else None
    duplicated = table["clip_id"][table["clip_id"].duplicated()].tolist()
    if duplicated:
        raise PipelineError(
            f"{study.clips_csv} lists clip {duplicated[0]} twice: it was edited or damaged; "
            f"{restore_command(study.clips_csv, copy)}. Nothing was changed.")
    sources: list[tuple[str, set[str]]] = []
    if latest is not None:
        sources.append((f"its last copy {copy.name}", latest[1]))
    sources += _finished_sessions(study)
    for path, given in batch_clip_ids(study, skip_unreadable=True).items():
        sources.append((f"batch {path.name} (clips given to coders)", given))
    for name, expected in sources:
        lost = sorted(expected - ids)
        if lost:
            raise PipelineError(
                f"{study.clips_csv} lists {len(ids)} clips but {len(lost)} more are in {name} "
                f"(e.g. {', '.join(lost[:3])}): clips.csv was damaged or cut short; "
                f"{restore_command(study.clips_csv, copy)}. Nothing was changed, no clip was "
                "deleted.")


def remove_clip_file(study: Study, clip_id: str, name: str) -> str | None:
    """Delete a clip file the pipeline wrote: clips/<clip_id>.mp4 inside the study (or its
    unfinished .part file). Anything else is left alone; the reason is returned."""
    target = study.absolute(name)
    clips = study.clips_dir.resolve()
    expected = {f"{clip_id}.mp4", f".{clip_id}.part.mp4"}
    if (not CLIP_ID.match(str(clip_id)) or target.name not in expected
            or target.resolve().parent != clips or target.is_symlink()):
        return (f"clip {clip_id}: {name} is not a clip file segment wrote in {study.clips_dir}; "
                "left in place")
    target.unlink(missing_ok=True)
    return None
