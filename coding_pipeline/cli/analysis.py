"""CLI commands of the analysis area: reliability and scores (see cli/__init__.py)."""

from __future__ import annotations

from pathlib import Path

import click

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import load_study, write_json_atomic

SHOWN_WARNINGS = 5


def echo_warnings(warnings: list[str]) -> None:
    """Each warning about coder spellings, then one summary line and the first few
    conflicting duplicates, on stderr."""
    duplicates = [w for w in warnings if "with different values" in w]
    for warning in warnings:
        if warning not in duplicates:
            click.echo(f"Warning: {warning}", err=True)
    if not duplicates:
        return
    click.echo(f"Warning: {len(duplicates)} conflicting duplicate rating(s); the latest of each "
               "was kept:", err=True)
    for warning in duplicates[:SHOWN_WARNINGS]:
        click.echo(f"  {warning}", err=True)
    if len(duplicates) > SHOWN_WARNINGS:
        click.echo(f"  ... and {len(duplicates) - SHOWN_WARNINGS} more.", err=True)


@click.command("reliability")
@click.argument("study", required=False, type=click.Path(path_type=Path))
@click.option("--ratings", "ratings_path", type=click.Path(path_type=Path),
              help="A ratings CSV from anywhere (columns clip_id, coder, item, value) "
                   "instead of a study folder; needs --scheme.")
@click.option("--scheme", "scheme_path", type=click.Path(path_type=Path),
              help="The coding scheme YAML the ratings were made with (with --ratings).")
@click.option("--json", "json_path", type=click.Path(path_type=Path),
              help="Also write the full result as JSON to this file.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=None,
              help="Bootstrap resamples for alpha's 95% interval "
                   "(default: study.toml's, else 1000; 0 = none).")
@click.option("--seed", type=int, default=None,
              help="Seed of the bootstrap (default: study.toml's, else 0).")
@click.option("--clips", "clips_path", type=click.Path(path_type=Path),
              help="With --ratings: a clip key CSV (clip_id, dyad_id, timepoint) so the "
                   "D-study of session scores can be computed.")
def reliability_command(
    study: Path | None, ratings_path: Path | None, scheme_path: Path | None,
    json_path: Path | None, bootstrap: int | None, seed: int | None, clips_path: Path | None,
) -> None:
    """Inter-rater reliability per item and composite: Krippendorff's alpha with a bootstrap
    95% interval, ICC forms from REML variance components, Gwet's AC2, exact and within-one
    agreement, per coder pair weighted kappa, coder bias, the D-study of session scores,
    certification and drift, and a methods paragraph.

    With a study folder, reads STUDY/ratings.csv and clips.csv and writes
    STUDY/reliability/reliability.json and its CSV tables; interview ratings (reflective
    functioning) the same files in STUDY/reliability/interviews/, printed after the clips'
    table (--json: the clips' result). Or give any ratings CSV and its
    scheme (and a clip key for the D-study):

    \b
      coding-pipeline reliability my-study
      coding-pipeline reliability --ratings ratings.csv --scheme scheme.yaml --json out.json
      coding-pipeline reliability --ratings r.csv --scheme s.yaml --clips clips.csv
    """
    from coding_pipeline.reliability import DEFAULT_SEED, format_table, reliability_of_files

    if (study is None) == (ratings_path is None):
        raise PipelineError(
            "Give either a study folder or --ratings FILE.csv --scheme SCHEME.yaml "
            "(see coding-pipeline reliability --help)."
        )
    if clips_path is not None and ratings_path is None:
        raise PipelineError("--clips goes with --ratings; a study folder's clips.csv is read "
                            "from the folder.")
    if ratings_path is not None:
        if scheme_path is None:
            raise PipelineError("--ratings needs --scheme SCHEME.yaml: the scheme the ratings use.")
        result = reliability_of_files(
            ratings_path, scheme_path, clips_path,
            bootstrap=1000 if bootstrap is None else bootstrap,
            seed=DEFAULT_SEED if seed is None else seed)
    else:
        opened = load_study(study)
        if bootstrap is not None:
            opened.config.bootstrap = bootstrap
        if seed is not None:
            opened.config.seed = seed
        _study_reliability(opened, json_path)
        return
    if json_path is not None:
        write_json_atomic(json_path, result)
        click.echo(f"Written: {json_path}")
    echo_warnings(result["warnings"])
    click.echo(format_table(result))


def _study_reliability(study, json_path: Path | None) -> None:
    """The reliability command on a study folder: clips (when any is rated), then interviews
    (when any is rated), each written, its warnings and table printed."""
    from coding_pipeline.ratings import read_ratings_by_kind
    from coding_pipeline.reliability import (
        clip_reliability_study,
        format_interview_table,
        format_table,
        interview_reliability_study,
    )

    clips, interviews = read_ratings_by_kind(study)
    if clips is not None:
        result = clip_reliability_study(study, clips)
        click.echo(f"Written: {study.reliability_dir / 'reliability.json'} and reliability.csv")
        if json_path is not None:
            write_json_atomic(json_path, result)
            click.echo(f"Written: {json_path}")
        echo_warnings(result["warnings"])
        click.echo(format_table(result))
    if interviews is not None:
        result = interview_reliability_study(study, interviews)
        folder = study.reliability_dir / "interviews"
        click.echo(f"{'' if clips is None else chr(10)}Written: {folder / 'reliability.json'} "
                   "and reliability.csv")
        echo_warnings(result["warnings"])
        click.echo(format_interview_table(result))


@click.command("scores")
@click.argument("study", type=click.Path(path_type=Path))
def scores_command(study: Path) -> None:
    """Per-dyad scores by timepoint: each coder's composites per clip (mean of reverse-keyed
    items), one clip score by study.toml's clip_policy, then the duration-weighted mean over
    the session's clips, with arm and every further sessions.csv column.

    Writes STUDY/scores/dyad_scores.csv (long: dyad x timepoint x composite), a wide table
    (dyad x timepoint), a table with one row per dyad (columns such as sensitivity_baseline,
    sensitivity_post, for repeated measures), each also as Parquet and SPSS .sav, and
    clip_scores.csv.

    Movement synchrony is included automatically when STUDY/motion/ holds motion series
    (from `coding-pipeline motion`): scores/motion_scores.csv (per dyad and timepoint),
    scores/motion_pseudo.json (real against pseudo-synchrony across the study) and the
    motion columns (sync_peak, sync_vs_pseudo, ...) in the wide and by-dyad tables:

    \b
      coding-pipeline scores my-study
    """
    from coding_pipeline.scores import score_study

    warnings: list[str] = []
    written = score_study(load_study(study), warnings)
    echo_warnings(warnings)
    for label, path in written.items():
        click.echo(f"{label + ':':<18} {path}")


COMMANDS: list[click.Command] = [reliability_command, scores_command]
