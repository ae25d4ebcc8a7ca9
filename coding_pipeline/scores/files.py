"""The score files of a study: STUDY/scores/ as CSV, Parquet and labelled SPSS .sav.

`score_study` reads the study (its checked ratings, clips.csv, sessions.csv), scores it with
`scores.core` and writes every table; `write_scores` writes tables already computed. When the
study has motion series (STUDY/motion/), their scores (`coding_pipeline.motion.scores`) are
written beside them and added to the wide and by-dyad tables (`scores.motion`); with interview
ratings, interview_scores.csv and the interview composites in the wide tables
(`scores.interviews`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coding_pipeline.motion.scores import MotionScores, study_motion_scores, write_motion_scores
from coding_pipeline.ratings import (
    StudyRatings,
    read_interview_ratings,
    read_ratings_by_kind,
)
from coding_pipeline.scheme import Scheme
from coding_pipeline.scores.core import ScoreTables, score_tables
from coding_pipeline.scores.interviews import (
    interview_labels,
    interview_scores,
    with_interview_scores,
)
from coding_pipeline.scores.motion import by_dyad_with_motion, motion_labels, wide_with_motion
from coding_pipeline.study import (
    Study,
    atomic_path,
    read_clips,
    read_session_covariates,
    read_transcript_key,
    write_csv_atomic,
)


def _numeric_where_possible(table: pd.DataFrame, keep_text: list[str]) -> pd.DataFrame:
    """Columns of numbers written as text (child age, ...) become numeric for Parquet/SPSS."""
    table = table.copy()
    for column in table.columns:
        if column in keep_text or pd.api.types.is_numeric_dtype(table[column]):
            continue
        text = table[column].astype(str).str.strip()
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        if numbers.notna().sum() == (text != "").sum() and numbers.notna().any():
            table[column] = numbers
    return table


def _spss_name(name: str, taken: set[str]) -> str:
    """A valid, unique SPSS variable name (letters, digits, _; starts with a letter; <= 64)."""
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"v_{cleaned}"
    cleaned = cleaned[:60]
    candidate, number = cleaned, 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{cleaned}_{number}"
    taken.add(candidate.lower())
    return candidate


CODED_COLUMNS = {"timepoint": "ordinal", "arm": "nominal", "composite": "nominal"}


def _is_score_column(column: str, composites: list[str]) -> bool:
    """score (long), <composite> (wide) or <composite>_<timepoint> (by dyad)."""
    return column == "score" or column in composites or any(
        column.startswith(f"{c}_") and not column.endswith(("_n_clips", "_share_rated"))
        for c in composites)


def write_sav(table: pd.DataFrame, path: Path, labels: dict[str, str],
              scheme: Scheme | None = None) -> None:
    """SPSS .sav with variable labels, measure levels (text and codes nominal, timepoint
    codes ordinal, numbers scale), timepoint/arm/composite also as labelled numeric codes,
    and the scale's end points labelled on the score columns of `scheme`'s composites."""
    import pyreadstat

    taken: set[str] = set()
    renamed = {c: _spss_name(c, taken) for c in table.columns}
    data = table.rename(columns=renamed)
    column_labels = {renamed[c]: labels.get(c, c) for c in table.columns}
    value_labels: dict[str, dict[float, str]] = {}
    measure: dict[str, str] = {}
    composite_labels = {c.id: c.label for c in scheme.composites} if scheme else {}
    for column, level in CODED_COLUMNS.items():
        if column not in table.columns:
            continue
        levels = [v for v in pd.unique(table[column].astype(str)) if v]
        name = _spss_name(f"{column}_code", taken)
        codes = {text: number for number, text in enumerate(levels, start=1)}
        data[name] = table[column].astype(str).map(codes).astype(float)
        value_labels[name] = {number: composite_labels.get(text, text)
                              for text, number in codes.items()}
        column_labels[name] = f"{column} (numeric code)"
        measure[name] = level
    if scheme is not None and scheme.items:
        low, high = (min(i.scale.min for i in scheme.items),
                     max(i.scale.max for i in scheme.items))
        ends = {float(low): f"{low}: lowest scale point",
                float(high): f"{high}: highest scale point"}
        for column in table.columns:
            if _is_score_column(column, list(composite_labels)):
                value_labels[renamed[column]] = ends
    for column in data.columns:
        if pd.api.types.is_numeric_dtype(data[column]):
            measure.setdefault(column, "scale")
        else:
            data[column] = data[column].fillna("").astype(str)
            measure.setdefault(column, "nominal")
    with atomic_path(path) as temp:
        pyreadstat.write_sav(
            data, str(temp), column_labels=column_labels, variable_value_labels=value_labels,
            variable_measure=measure,
        )


def _by_dyad_labels(scheme: Scheme, by_dyad: pd.DataFrame, timepoints: list[str]
                    ) -> dict[str, str]:
    """SPSS variable labels of the one-row-per-dyad table ("Maternal sensitivity at post")."""
    labels = _labels(scheme, wide=False)
    for timepoint in timepoints:
        suffix = f"_{timepoint}"
        for column in by_dyad.columns:
            if column.endswith(suffix):  # a covariate that varies by timepoint
                base = column.removesuffix(suffix)
                labels[column] = f"{labels.get(base, base)} at {timepoint}"
        for composite in scheme.composites:
            name, label = f"{composite.id}_{timepoint}", f"{composite.label} at {timepoint}"
            labels[name] = label
            labels[f"{name}_n_clips"] = f"{label}: clips scored"
            labels[f"{name}_share_rated"] = f"{label}: share of clips scored"
    return labels


def _labels(scheme: Scheme, wide: bool) -> dict[str, str]:
    labels = {
        "dyad_id": "Dyad", "timepoint": "Timepoint", "arm": "Arm", "composite": "Composite",
        "composite_label": "Composite label", "score": "Score (duration-weighted mean of clips)",
        "n_clips": "Clips scored", "n_clips_session": "Clips in the session",
        "share_clips_rated": "Share of the session's clips scored",
        "weighting": "Clip weighting", "reason": "Why the score is missing",
    }
    if wide:
        for composite in scheme.composites:
            labels[composite.id] = composite.label
            labels[f"{composite.id}_n_clips"] = f"{composite.label}: clips scored"
            labels[f"{composite.id}_share_rated"] = f"{composite.label}: share of clips scored"
    return labels


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    """A Parquet file, written atomically."""
    with atomic_path(path) as temp:
        table.to_parquet(temp, index=False)


def study_scores(study: Study, ratings: StudyRatings) -> ScoreTables:
    """The study's score tables from its checked ratings, clips.csv and sessions.csv, under
    study.toml's [scores] clip_policy and min_item_share."""
    clips = read_clips(study)
    covariates = read_session_covariates(study) if study.sessions_csv.is_file() else None
    return score_tables(ratings.table, ratings.scheme, clips, covariates,
                        study.config.clip_policy, study.config.min_item_share)


def write_scores(folder: Path, tables: ScoreTables, scheme: Scheme,
                 motion: MotionScores | None = None,
                 extra_labels: dict[str, str] | None = None) -> dict[str, Path]:
    """Write every score table into `folder`, with the motion scores when given (their own
    files, and their columns in the wide and by-dyad tables); returns label -> path written.
    `extra_labels`: SPSS variable labels of added columns (the interview scores)."""
    written = {
        "per clip CSV": folder / "clip_scores.csv",
        "long CSV": folder / "dyad_scores.csv",
        "long Parquet": folder / "dyad_scores.parquet",
        "long SPSS": folder / "dyad_scores.sav",
        "wide CSV": folder / "dyad_scores_wide.csv",
        "wide Parquet": folder / "dyad_scores_wide.parquet",
        "wide SPSS": folder / "dyad_scores_wide.sav",
        "by dyad CSV": folder / "dyad_scores_by_dyad.csv",
        "by dyad Parquet": folder / "dyad_scores_by_dyad.parquet",
        "by dyad SPSS": folder / "dyad_scores_by_dyad.sav",
    }
    wide, by_dyad = tables.wide, tables.by_dyad
    wide_labels = _labels(scheme, wide=True) | (extra_labels or {})
    by_dyad_labels = _by_dyad_labels(scheme, by_dyad, tables.timepoints) | (extra_labels or {})
    if motion is not None:
        wide = wide_with_motion(wide, motion.table)
        by_dyad = by_dyad_with_motion(by_dyad, motion.table, tables.timepoints)
        wide_labels |= motion_labels()
        by_dyad_labels |= motion_labels(list(pd.unique(motion.table["timepoint"])))
    write_csv_atomic(written["per clip CSV"], tables.per_clip)
    write_csv_atomic(written["long CSV"], tables.long)
    write_csv_atomic(written["wide CSV"], wide)
    text_columns = ["dyad_id", "timepoint", "arm"]
    long_typed = _numeric_where_possible(tables.long, text_columns)
    wide_typed = _numeric_where_possible(wide, text_columns)
    write_parquet(long_typed, written["long Parquet"])
    write_parquet(wide_typed, written["wide Parquet"])
    write_sav(long_typed, written["long SPSS"], _labels(scheme, wide=False), scheme)
    write_sav(wide_typed, written["wide SPSS"], wide_labels, scheme)
    write_csv_atomic(written["by dyad CSV"], by_dyad)
    by_dyad_typed = _numeric_where_possible(by_dyad, text_columns)
    write_parquet(by_dyad_typed, written["by dyad Parquet"])
    write_sav(by_dyad_typed, written["by dyad SPSS"], by_dyad_labels, scheme)
    if motion is not None:
        written |= write_motion_scores(folder, motion)
    return written


def study_interview_scores(study: Study, ratings: StudyRatings) -> pd.DataFrame:
    """The interview scores per dyad and timepoint from checked interview ratings and
    transcripts.csv, under study.toml's [scores] clip_policy and min_item_share."""
    return interview_scores(ratings.table, ratings.scheme, read_transcript_key(study),
                            study.config.clip_policy, study.config.min_item_share)


def score_study(study: Study, warnings: list[str] | None = None,
                ratings: StudyRatings | None = None) -> dict[str, Path]:
    """Write STUDY/scores/: clip_scores.csv, dyad_scores.csv/.parquet/.sav (long: dyad x
    timepoint x composite), dyad_scores_wide.csv/.parquet/.sav (dyad x timepoint) and
    dyad_scores_by_dyad.csv/.parquet/.sav (one row per dyad, columns per timepoint); with
    interview ratings also interview_scores.csv (dyad x timepoint) and the interview
    composites as columns of the wide and by-dyad tables (a study rated on interviews only
    gets interview_scores.csv alone); with motion series in STUDY/motion/, also
    motion_scores.csv and motion_pseudo.json, and the motion columns in the wide and by-dyad
    tables.

    Uses study.toml's [scores] clip_policy and min_item_share. Returns label -> path written;
    warnings about the ratings (see `check_ratings`) and the motion files are appended to
    `warnings` when given. `ratings`: the study's clip ratings when already read and checked.
    """
    if ratings is None:
        ratings, interviews = read_ratings_by_kind(study)
    else:
        interviews = read_interview_ratings(study)
    for found in (ratings, interviews):
        if warnings is not None and found is not None:
            warnings.extend(found.warnings)
    motion = study_motion_scores(study, warnings)
    return write_study_scores(study, ratings, interviews, motion)[0]


def write_study_scores(study: Study, ratings: StudyRatings | None,
                       interviews: StudyRatings | None, motion: MotionScores | None = None,
                       ) -> tuple[dict[str, Path], ScoreTables | None, pd.DataFrame | None]:
    """`score_study` from ratings already read and checked (clip ratings, interview ratings,
    either may be None) and the motion scores: label -> path written, the clip score tables
    (without the interview columns) and the interview scores."""
    rf = None if interviews is None else study_interview_scores(study, interviews)
    written: dict[str, Path] = {}
    tables = None
    if ratings is not None:
        tables, shown, labels = study_scores(study, ratings), None, None
        if rf is not None:
            shown = with_interview_scores(tables, rf, interviews.scheme)
            labels = interview_labels(interviews.scheme, sorted(set(rf["timepoint"])))
        written = write_scores(study.scores_dir, tables if shown is None else shown,
                               ratings.scheme, motion, labels)
    elif motion is not None:
        written = write_motion_scores(study.scores_dir, motion)
    if rf is not None:
        written["interviews CSV"] = study.scores_dir / "interview_scores.csv"
        write_csv_atomic(written["interviews CSV"], rf)
    return written, tables, rf
