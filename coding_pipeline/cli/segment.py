"""CLI commands of this area (see coding_pipeline/cli/__init__.py): `segment`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coding_pipeline.segment import segment_study
from coding_pipeline.study import load_study


@click.command("segment")
@click.argument("study", type=click.Path(path_type=Path))
@click.option("--epoch", "epoch_seconds", type=click.FloatRange(min=0, min_open=True),
              help="Clip length in seconds (default: epoch_seconds in study.toml).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Sessions encoded at once (default: workers in study.toml, 0 = one per core).")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run the sessions on this Dask distributed scheduler's workers (they must "
                   "see the study folder at the same path; needs the `cluster` extra).")
def segment_command(study: Path, epoch_seconds: float | None, workers: int | None,
                    quiet: bool, scheduler: str | None) -> None:
    """Cut every session in sessions.csv into clips for coders.

    Each session is decoded once and cut into consecutive epochs from its start to its
    end (the whole video when empty): H.264/AAC MP4 clips named by random ids in
    STUDY/clips/, listed in the clip key STUDY/clips.csv with each clip's dyad, timepoint,
    exact start and end (seconds from the video's first frame), frame count and recording
    checks (qc: black, frozen, silent, no_audio).

    Rerunning skips finished sessions (after checking their clips are whole) and finishes
    interrupted ones. A corrected dyad_id, timepoint or arm relabels the session's clips
    without re-encoding; clips of a session removed from sessions.csv are deleted unless
    they were given to coders. Only one `segment` runs on a study at a time. A bad row is
    reported on one line and the other rows are still cut; the exit status is then 1.

    A session recorded as several files lists them in `video` separated by ';' (or names
    their folder); they are cut as one recording. Variable-rate video is cut at its full
    rate (qc: variable_rate).

    \b
      coding-pipeline segment trial-2026
      coding-pipeline segment trial-2026 --epoch 30 --workers 2
      coding-pipeline segment /shared/trial-2026 --scheduler tcp://10.0.0.5:8786
    """
    loaded = load_study(study)
    report = segment_study(loaded, epoch_seconds=epoch_seconds, workers=workers,
                           progress=not quiet, scheduler=scheduler)
    echo_run_report(report)
    click.echo(
        f"{count(report.clips_written, 'clip')} written from "
        f"{count(report.sessions_done, 'session')}; "
        f"{count(report.sessions_skipped, 'session')} already complete; "
        f"{count(len(report.problems), 'row')} failed. Clip key: {loaded.clips_csv}"
    )
    if report.problems:
        sys.exit(1)


COMMANDS: list[click.Command] = [segment_command]


def count(number: int, noun: str) -> str:
    """'1 session', '2 sessions', '0 sessions'."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def echo_run_report(report) -> None:
    """A per-session run's warnings and errors (on stderr) and notes, one line each."""
    for warning in report.warnings:
        click.secho(f"Warning: {warning}", fg="yellow", err=True)
    for problem in report.problems:
        click.secho(f"Error: {problem}", fg="red", err=True)
    for note in report.notes:
        click.echo(f"Note: {note}")
