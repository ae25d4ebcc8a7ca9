"""The clip table (clips.csv as text) as segment reads, checks, tidies and rewrites it.

Tidying before a run: a relabelled session takes its clips with it (`relabel_sessions`), and
clips of a session no longer in sessions.csv go unless given to coders (`drop_stale`).
"""

from __future__ import annotations

import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.segment.jobs import (
    SegmentReport,
    SessionJob,
    SessionOutcome,
    manifest_path,
    plan_field,
)
from coding_pipeline.study import (
    CLIP_COLUMNS,
    Study,
    StudyConfig,
    batch_clip_ids,
    missing_clip_key,
    read_clips,
    read_table,
    remove_clip_file,
)

EXTRA_COLUMNS = ["duration_s", "epoch_index", "session_row", "width", "height", "has_audio",
                 "plan", "source_fps", "repeated_frames"]
CLIPS_TABLE_COLUMNS = CLIP_COLUMNS + EXTRA_COLUMNS


def read_clip_table(study: Study) -> pd.DataFrame:
    """clips.csv as text (an empty table with our columns if no clip was cut yet), checked
    against its copies, manifests and batches (see `study.check_clip_key`)."""
    if not study.clips_csv.is_file():
        if problem := missing_clip_key(study):
            raise PipelineError(problem)
        return pd.DataFrame(columns=CLIPS_TABLE_COLUMNS)
    table = read_clips(study)
    for column in CLIPS_TABLE_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    return table


def pushed_clip_ids(study: Study) -> set[str]:
    """Clip ids already handed to coders: those in any STUDY/batches/*.csv or ratings.csv.

    Deliberately wider than `batches.load_assignments`: a batch .csv without its .json
    (a batch written by hand, or one cut short) still counts, so its clips are not re-cut.
    """
    ids: set[str] = set().union(*batch_clip_ids(study).values())  # a damaged one stops segment
    if study.ratings_csv.is_file():
        rated = read_table(study.ratings_csv, [], "", written=True)
        if "clip_id" in rated.columns:
            ids.update(rated["clip_id"])
    return ids


def require_clip_settings(study: Study, given_epoch: bool) -> None:
    """Once clips exist, the settings that decide them must be in study.toml, not defaulted."""
    table = read_clip_table(study)
    if table.empty:
        return
    for section, key in StudyConfig.CLIP_SHAPING:
        if not study.config.missing(section, key) or (key == "epoch_seconds" and given_epoch):
            continue
        plans = {plan_field(plan, {"epoch_seconds": "epoch"}.get(key, "min_last"))
                 for plan in table["plan"] if plan}
        used = next(iter(plans)) if len(plans) == 1 else None
        value = f"`{key} = {used}`" if used else f"{key} to the value the clips were cut with"
        raise PipelineError(
            f"{study.toml_path}: [segment] {key} is not set, and clips.csv holds "
            f"{len(table)} clips: set {value} under [segment] (defaults are not used once clips "
            "exist, so that no clip is cut again or deleted by mistake). Nothing was changed.")


def relabel_sessions(table: pd.DataFrame, jobs: list[SessionJob],
                     listed: set[tuple[str, str]], notes: list[str]) -> pd.DataFrame:
    """Clips whose session was relabelled in sessions.csv, given their new labels (pure).

    A session without clips takes over the clips of the same video cut with the same plan
    under a dyad/timepoint no longer in sessions.csv; a session whose arm changed gets it in
    its clips. Clip ids and files stay. One note per relabelled session.
    """
    table = table.copy()
    for job in jobs:
        session = job.session
        keys = pd.Series(list(zip(table["dyad_id"], table["timepoint"], strict=True)),
                         index=table.index, dtype=object)
        mine = keys == job.key
        same = (table["source"] == job.source) & (table["plan"] == job.plan)
        if not mine.any():
            moved = keys[same & ~keys.isin(listed)]
            if moved.empty:
                continue
            old = moved.iloc[0]
            rows = same & (keys == old)
            notes.append(f"{job.where}: relabelled {_clips(int(rows.sum()))} of {old[0]}/{old[1]}"
                         f" as {session.dyad_id}/{session.timepoint} (same video and epochs; "
                         "same clip ids, nothing re-encoded).")
        else:
            rows = same & mine & (table["arm"] != session.arm)
            if not rows.any():
                continue
            notes.append(f"{job.where}: arm of {_clips(int(rows.sum()))} changed from "
                         f"'{table.loc[rows, 'arm'].iloc[0]}' to '{session.arm}'.")
        table.loc[rows, ["dyad_id", "timepoint", "arm", "session_row"]] = [
            session.dyad_id, session.timepoint, session.arm, str(session.row)]
    return table


def drop_stale(study: Study, table: pd.DataFrame, listed: set[tuple[str, str]] | None,
               pushed: set[str], report: SegmentReport) -> pd.DataFrame:
    """Remove clips of sessions no longer in sessions.csv unless given to coders (then warn).

    `listed` None (a row without dyad_id or timepoint) keeps everything this run.
    """
    if listed is None:
        return table
    keys = pd.Series(list(zip(table["dyad_id"], table["timepoint"], strict=True)),
                     index=table.index, dtype=object)
    for dyad, timepoint in sorted(set(keys[~keys.isin(listed)])):
        rows = table[keys.loc[table.index] == (dyad, timepoint)]
        given = [clip_id for clip_id in rows["clip_id"] if clip_id in pushed]
        if given:
            report.warnings.append(
                f"{_clips(len(rows))} of {dyad}/{timepoint} ({', '.join(rows['clip_id'])}) "
                f"{'is' if len(rows) == 1 else 'are'} "
                "kept in clips.csv although the session is no longer in sessions.csv, because "
                f"{len(given)} {'was' if len(given) == 1 else 'were'} given to coders: put its "
                "row back in sessions.csv if it was removed or relabelled by mistake, or leave "
                "these clips out of the analysis.")
            continue
        for clip_id, name in zip(rows["clip_id"], rows["file"], strict=True):
            if refused := remove_clip_file(study, clip_id, name):
                report.warnings.append(refused + ".")
        manifest_path(study, (dyad, timepoint)).unlink(missing_ok=True)
        report.notes.append(f"removed {_clips(len(rows))} of {dyad}/{timepoint}: the session is no"
                            " longer in sessions.csv and none of its clips was given to coders.")
        table = table[keys.loc[table.index] != (dyad, timepoint)]
    return table.reset_index(drop=True)


def replace_session(table: pd.DataFrame, outcome: SessionOutcome,
                    order: dict[tuple[str, str], int]) -> pd.DataFrame:
    """The table with a cut session's rows swapped for its new ones, in sessions.csv order
    (`order`: session -> row) and epoch order within a session."""
    dyad, timepoint = outcome.key
    keep = table[~((table["dyad_id"] == dyad) & (table["timepoint"] == timepoint))]
    new = pd.DataFrame(outcome.rows, dtype=str)
    merged = pd.concat([keep, new], ignore_index=True).fillna("")
    columns = CLIPS_TABLE_COLUMNS + [c for c in merged.columns if c not in CLIPS_TABLE_COLUMNS]
    merged = merged.reindex(columns=columns, fill_value="")
    keys = zip(merged["dyad_id"], merged["timepoint"], strict=True)
    rank = [order.get(key, 10**9) for key in keys]
    index = pd.to_numeric(merged["epoch_index"], errors="coerce").fillna(0)
    merged = merged.assign(_rank=rank, _index=index).sort_values(["_rank", "_index"], kind="stable")
    return merged.drop(columns=["_rank", "_index"]).reset_index(drop=True)


def table_keys(table: pd.DataFrame) -> set[tuple[str, str]]:
    """Every (dyad_id, timepoint) with clips in the table."""
    return set(zip(table["dyad_id"], table["timepoint"], strict=True))


def _clips(count: int) -> str:
    return f"{count} clip{'' if count == 1 else 's'}"
