"""Batches in the study folder: STUDY/batches/NAME.csv and NAME.json read, named and written,
and the create commands that plan a batch from the study's clips and save it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from coding_pipeline.batches.coding import plan_coding_batch
from coding_pipeline.batches.plan import (
    ASSIGNMENT_COLUMNS,
    META_KEYS,
    BatchPlan,
    parse_coders,
    plan_recalibration_batch,
    plan_training_batch,
)
from coding_pipeline.errors import PipelineError
from coding_pipeline.ratings import study_ratings
from coding_pipeline.study import (
    Study,
    read_batch_csv,
    read_clips,
    read_table,
    read_transcript_key,
    restore_advice,
    seed_or_random,
    write_csv_atomic,
    write_json_atomic,
)

_META_KEYS = ("name", "kind", "coders", "seed", "reliability_share", "created_at")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


INTERVIEW_UNIT = "interview"  # NAME.json "unit" of a batch of interviews (none: of clips)


def batches_dir(study: Study) -> Path:
    return study.batches_dir


def interview_units(study: Study) -> pd.DataFrame:
    """The study's interviews as units to plan: transcripts.csv's rows, the transcript id in
    `clip_id` (as batches and ratings.csv hold it), with dyad_id, timepoint and arm."""
    key = read_transcript_key(study)
    if key.empty:
        raise PipelineError(
            f"{study.transcripts_csv} lists no interviews: run `coding-pipeline transcripts "
            f"{study.root}` first.")
    return key.rename(columns={"transcript_id": "clip_id"})[
        ["clip_id", "dyad_id", "timepoint", "arm"]]


def _units(study: Study, interviews: bool) -> pd.DataFrame:
    """What a batch plans: the study's interviews, or its clips."""
    return interview_units(study) if interviews else read_clips(study)


def is_interview_batch(plan: BatchPlan) -> bool:
    return plan.extra.get("unit") == INTERVIEW_UNIT


def _marked(plan: BatchPlan, interviews: bool) -> BatchPlan:
    if interviews:
        plan.extra["unit"] = INTERVIEW_UNIT
    return plan


def _read_meta(meta_path: Path) -> dict:
    """A batch's NAME.json, with the fields every batch has; a damaged one is an error."""
    damaged = f"{meta_path} is damaged (cut short or edited)"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{damaged}: not valid JSON ({exc}). "
                            f"{restore_advice(meta_path)}") from None
    if not isinstance(meta, dict) or not all(k in meta for k in _META_KEYS):
        raise PipelineError(f"{damaged}: it lacks some of {', '.join(_META_KEYS)}. "
                            f"{restore_advice(meta_path)}")
    return meta


def _read_assignments(csv_path: Path, meta: dict) -> pd.DataFrame:
    """A batch's NAME.csv, whole and as many rows as its NAME.json says were written."""
    if not csv_path.is_file():
        raise PipelineError(f"{csv_path} is missing: the batch {csv_path.stem} is incomplete.")
    table = read_batch_csv(csv_path, ASSIGNMENT_COLUMNS)
    if meta.get("assignments") not in (None, len(table)):
        raise PipelineError(
            f"{csv_path} is damaged: it has {len(table)} assignments but "
            f"{meta['assignments']} were written. {restore_advice(csv_path)}")
    order = pd.to_numeric(table["order"], errors="coerce")
    if table[ASSIGNMENT_COLUMNS].eq("").any().any() or order.isna().any():
        raise PipelineError(f"{csv_path} is damaged: a row has an empty field or an order "
                            f"that is not a number. {restore_advice(csv_path)}")
    table["order"] = order.astype(int)
    return table[ASSIGNMENT_COLUMNS]


def load_batches(study: Study) -> list[BatchPlan]:
    """Every batch of the study, oldest first."""
    plans = []
    for meta_path in sorted(batches_dir(study).glob("*.json")):
        meta = _read_meta(meta_path)
        table = _read_assignments(meta_path.with_suffix(".csv"), meta)
        plans.append(BatchPlan(
            name=meta["name"], kind=meta["kind"], coders=meta["coders"], seed=meta["seed"],
            reliability_share=meta["reliability_share"], assignments=table,
            master=meta.get("master"), created_at=meta["created_at"],
            extra={k: v for k, v in meta.items() if k not in META_KEYS},
        ))
    return sorted(plans, key=lambda p: p.created_at)


def _coding_history(study: Study, interviews: bool) -> pd.DataFrame:
    """The assignments of the study's coding batches of the same unit (interviews or clips)."""
    plans = [p for p in load_batches(study)
             if p.kind == "coding" and is_interview_batch(p) == interviews]
    if not plans:
        return pd.DataFrame(columns=["batch", *ASSIGNMENT_COLUMNS])
    return pd.concat([p.assignments.assign(batch=p.name) for p in plans], ignore_index=True)


def load_assignments(study: Study) -> pd.DataFrame:
    """All assignments of all batches: batch, kind, clip_id, coder, role, order."""
    frames = [p.assignments.assign(batch=p.name, kind=p.kind) for p in load_batches(study)]
    columns = ["batch", "kind", *ASSIGNMENT_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def new_name(study: Study, name: str | None, prefix: str) -> str:
    """The batch name to use: `name` checked, else PREFIX-01, PREFIX-02, ... not yet taken."""
    existing = {p.stem for p in batches_dir(study).glob("*.json")}
    if name is None:
        number = 1
        while f"{prefix}-{number:02d}" in existing:
            number += 1
        return f"{prefix}-{number:02d}"
    if not _NAME.match(name):
        raise PipelineError(f"Batch name '{name}': use letters, digits, '-', '_' or '.'.")
    if name in existing:
        raise PipelineError(f"A batch named '{name}' already exists: choose another --name.")
    return name


def save_plan(study: Study, plan: BatchPlan) -> BatchPlan:
    """Write batches/NAME.csv, then NAME.json (its presence marks the batch complete)."""
    folder = batches_dir(study)
    write_csv_atomic(folder / f"{plan.name}.csv", plan.assignments)
    write_json_atomic(folder / f"{plan.name}.json", plan.meta())  # written last: marks it complete
    return plan


def create_batch(
    study: Study, coders: list[str] | str, reliability_share: float | None = None,
    seed: int | None = None, name: str | None = None, clip_ids: list[str] | None = None,
    interviews: bool = False,
) -> BatchPlan:
    """Plan a coding batch of every clip (with `interviews`, every interview of
    transcripts.csv) not yet in a coding batch (of those in `clip_ids`, when given), and save
    it."""
    coders = parse_coders(coders)
    units = _units(study, interviews)
    if clip_ids is not None:
        units = units[units["clip_id"].isin(clip_ids)]
    history = _coding_history(study, interviews)
    available = units[~units["clip_id"].isin(set(history["clip_id"]))]
    if available.empty:
        what, source, fresh = (
            ("interview", study.transcripts_csv, "read new interviews") if interviews
            else ("clip", study.clips_csv, "segment new sessions"))
        raise PipelineError(
            f"Every {what} in {source} is already in a coding batch: "
            f"{fresh} first, or see `coding-pipeline batch show`."
        )
    share = study.config.reliability_share if reliability_share is None else reliability_share
    seed = seed_or_random(seed)
    plan = plan_coding_batch(available, coders, new_name(study, name, "batch"), share, seed,
                             history=history)
    return save_plan(study, _marked(plan, interviews))


def create_training_batch(
    study: Study, master: str, coders: list[str] | str, n_clips: int = 10,
    seed: int | None = None, name: str | None = None, interviews: bool = False,
) -> BatchPlan:
    """Plan a training set (of clips, or with `interviews` of interviews) that the master and
    every trainee code, and save it."""
    (master,) = parse_coders([master])
    coders = parse_coders(coders)
    units = _units(study, interviews)
    seed = seed_or_random(seed)
    plan = plan_training_batch(
        units, master, coders, new_name(study, name, "training"), n_clips, seed,
    )
    return save_plan(study, _marked(plan, interviews))


def _interview_ratings(study: Study) -> pd.DataFrame:
    """The rated rows of interviews in ratings.csv (clip_id, coder, role): who rated which
    interview. Read without the video scheme's checks, which interview items do not pass."""
    table = read_table(study.ratings_csv, ["clip_id", "coder", "value"],
                       f"run `coding-pipeline pull {study.root}` first")
    if "role" not in table.columns:
        table["role"] = ""
    rated = table["clip_id"].isin(set(interview_units(study)["clip_id"])) & (table["value"] != "")
    return table.loc[rated, ["clip_id", "coder", "role"]]


def create_recalibration_batch(
    study: Study, coder: str, master: str, n_clips: int = 10, seed: int | None = None,
    name: str | None = None, interviews: bool = False,
) -> BatchPlan:
    """Plan a recalibration set for `coder` of clips (with `interviews`, interviews) `master`
    has rated (ratings.csv), and save it."""
    (coder,) = parse_coders([coder])
    (master,) = parse_coders([master])
    clean = _interview_ratings(study) if interviews else study_ratings(study)
    own = clean[clean["role"].isin(["master", "primary", "reliability", ""])]
    master_rated = set(own.loc[own["coder"] == master, "clip_id"])
    coder_rated = set(clean.loc[clean["coder"] == coder, "clip_id"])
    seed = seed_or_random(seed)
    plan = plan_recalibration_batch(
        _units(study, interviews), master_rated, coder_rated, coder, master,
        new_name(study, name, "recalibration"), n_clips, seed)
    return save_plan(study, _marked(plan, interviews))
