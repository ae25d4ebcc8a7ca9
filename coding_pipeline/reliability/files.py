"""A study's reliability files: STUDY/reliability/reliability.json and its CSV tables, from
the study's checked ratings, scheme, clip key and batches; and the same files for interviews
in STUDY/reliability/interviews/ when the study has interview ratings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from coding_pipeline.batches import load_batches
from coding_pipeline.ratings import (
    REQUIRED_RATING_COLUMNS,
    StudyRatings,
    read_interview_ratings,
    read_study_ratings,
)
from coding_pipeline.reliability.certification import InterviewCertificationCriteria
from coding_pipeline.reliability.compute import (
    ReliabilitySettings,
    compute_reliability,
    reliability_of_checked,
)
from coding_pipeline.reliability.entries import DEFAULT_SEED
from coding_pipeline.reliability.tables import by_variable, flat_table, flatten
from coding_pipeline.scheme import load_scheme
from coding_pipeline.study import (
    Study,
    read_clips,
    read_table,
    write_csv_atomic,
    write_json_atomic,
)


def software_versions() -> dict[str, str]:
    """The versions that compute the statistics (from the installed packages' metadata)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("coding-pipeline", "numpy", "scipy", "pandas"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


def reliability_study(study: Study, ratings: StudyRatings | None = None) -> dict:
    """`clip_reliability_study`, then `interview_reliability_study` (when the study has
    interview ratings). Returns the clip result. `ratings`: the study's clip ratings when
    already read and checked."""
    result = clip_reliability_study(study, ratings)
    interview_reliability_study(study)
    return result


def clip_reliability_study(study: Study, ratings: StudyRatings | None = None) -> dict:
    """Compute reliability from STUDY/ratings.csv, the study's scheme and clip key; write to
    STUDY/reliability/: reliability.json (everything), reliability.csv (items and composites),
    pairs.csv, bias.csv, d_study.csv, certification.csv and drift.csv. Returns the result.
    `ratings`: the study's clip ratings when already read and checked."""
    ratings = read_study_ratings(study) if ratings is None else ratings
    clips = read_clips(study) if study.clips_csv.is_file() else None
    masters = {p.name: p.master for p in load_batches(study) if p.extra.get("recalibrate")}
    result = reliability_of_checked(
        ratings.table, ratings.warnings, ratings.scheme,
        ReliabilitySettings.from_config(study.config), clips=clips,
        recalibration_masters=masters, software=software_versions(),
    )
    write_reliability_files(study.reliability_dir, result)
    return result


INTERVIEWS_FOLDER = "interviews"


def interview_reliability_study(study: Study, ratings: StudyRatings | None = None
                                ) -> dict | None:
    """The reliability of the study's interview ratings (`read_interview_ratings`) with the
    clip statistics and settings, interviews being the units and [certification.interviews]
    judging certification; written to STUDY/reliability/interviews/ (the files of
    `write_reliability_files`). None, writing nothing, when there are no interview ratings."""
    ratings = read_interview_ratings(study) if ratings is None else ratings
    if ratings is None:
        return None
    masters = {p.name: p.master for p in load_batches(study) if p.extra.get("recalibrate")}
    settings = replace(ReliabilitySettings.from_config(study.config),
                       criteria=InterviewCertificationCriteria.from_config(study.config))
    result = reliability_of_checked(
        ratings.table, ratings.warnings, ratings.scheme, settings,
        recalibration_masters=masters, software=software_versions(), unit="interview")
    write_reliability_files(study.reliability_dir / INTERVIEWS_FOLDER, result)
    return result


def reliability_of_files(ratings_path: Path, scheme_path: Path, clips_path: Path | None = None,
                         bootstrap: int = 1000, seed: int = DEFAULT_SEED) -> dict:
    """Reliability of any ratings CSV (clip_id, coder, item, value) rated with the scheme at
    `scheme_path`; a clip key CSV (clip_id, dyad_id, timepoint) adds the D-study."""
    ratings = read_table(ratings_path, REQUIRED_RATING_COLUMNS, "check the path")
    clips = (read_table(clips_path, ["clip_id", "dyad_id", "timepoint"],
                        "give the clip key (clip_id, dyad_id, timepoint)")
             if clips_path is not None else None)
    return compute_reliability(ratings, load_scheme(scheme_path), bootstrap=bootstrap,
                               seed=seed, source=str(ratings_path), clips=clips,
                               software=software_versions())


def write_reliability_files(folder: Path, result: dict) -> None:
    """reliability.json and the CSV tables of a result, into `folder`."""
    write_json_atomic(folder / "reliability.json", result)
    write_csv_atomic(folder / "reliability.csv", flat_table(result))
    write_csv_atomic(folder / "pairs.csv", flatten(
        result["pairs"], ["coders", "item", "n_clips", "kappa", "exact_agreement",
                          "within_one_agreement"]))
    bias_rows = [{"variable": name, **row} for name, rows in result["bias"].items()
                 for row in rows]
    write_csv_atomic(folder / "bias.csv", flatten(
        bias_rows, ["variable", "coder", "mean_difference", "ci_low", "ci_high", "n_clips"]))
    study_rows = [{"composite": name, **row} for name, found in result["d_study"].items()
                  for row in found.get("table", [])]
    write_csv_atomic(folder / "d_study.csv", flatten(
        study_rows, ["composite", "clips_per_session", "coders_per_clip", "g", "phi"]))
    statistic_columns = ["kind", "id", "alpha", "icc", "exact_agreement",
                         "within_one_agreement", "n_clips"]
    write_csv_atomic(folder / "certification.csv", flatten(
        by_variable(result["certification"], ["coder", "master", "kind", "batch", "date",
                                               "status"], kind_column="variable_kind"),
        ["coder", "master", "kind", "batch", "date", "status", "variable_kind",
         *statistic_columns[1:]]))
    write_csv_atomic(folder / "recalibration.csv", flatten(
        result["recalibration"], ["coder", "last_clips", "status", "until", "alpha",
                                  "within_one_agreement", "n_clips"]))
    drift_rows = [{"by": key.removeprefix("by_"), **row}
                  for key, rows in result["drift"].items() for row in rows]
    write_csv_atomic(folder / "drift.csv", flatten(
        by_variable(drift_rows, ["by", "group"]), ["by", "group", *statistic_columns]))
