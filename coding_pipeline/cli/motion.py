"""CLI commands of this area (see coding_pipeline/cli/__init__.py): `motion`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coding_pipeline.cli.segment import count, echo_run_report
from coding_pipeline.study import load_study


@click.command("motion")
@click.argument("study", type=click.Path(path_type=Path))
@click.option("--workers", type=click.IntRange(min=1),
              help="Sessions measured at once (default: workers in study.toml, 0 = one per "
                   "core).")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run the sessions on this Dask distributed scheduler's workers (they must "
                   "see the study folder at the same path; needs the `cluster` extra).")
def motion_command(study: Path, workers: int | None, quiet: bool,
                   scheduler: str | None) -> None:
    """Measure caregiver and child motion energy in every session, for movement synchrony.

    Each session of sessions.csv (its start/end window, all its files, at the full frame
    rate, deinterlaced and rotated as coders see it) is decoded once. In every frame, the
    motion energy of a box (STUDY/rois.csv: a caregiver, a child and optionally a background
    box per session, as fractions of the displayed picture) is the share of its pixels whose
    grey value changed by more than a noise threshold since the frame before (Motion Energy
    Analysis). The threshold comes from the background box when there is one, else from
    study.toml [motion]; its settings are there too.

    Writes STUDY/motion/<dyad_id>_<timepoint>.csv, one row per frame: time (seconds from the
    video's first frame, as in clips.csv), caregiver, child, background (empty without a
    background box), background_moved (1 where the background moved: camera shake or a
    change of light; leave those frames out) and repeated (1 where a variable-rate or split
    recording has no frame of its own; its values are empty). Beside it,
    motion/<dyad_id>_<timepoint>.json records the threshold used and the settings. These
    files name families: they stay in the study folder and are never sent to Label Studio.

    Rerunning skips sessions whose video, start/end, boxes and settings are unchanged, and
    measures the others again. Only one `motion` runs on a study at a time. A session
    without boxes or with a video that cannot be read is reported on one line and the
    others are still measured; the exit status is then 1.

    \b
      coding-pipeline motion trial-2026
      coding-pipeline motion trial-2026 --workers 2
      coding-pipeline motion /shared/trial-2026 --scheduler tcp://10.0.0.5:8786
    """
    from coding_pipeline.motion.stage import motion_study

    loaded = load_study(study)
    report = motion_study(loaded, workers=workers, progress=not quiet, scheduler=scheduler)
    echo_run_report(report)
    click.echo(
        f"Motion measured in {count(report.sessions_done, 'session')}; "
        f"{count(report.sessions_skipped, 'session')} already complete; "
        f"{count(len(report.problems), 'row')} failed. Motion series: {loaded.root / 'motion'}")
    if report.problems:
        sys.exit(1)


COMMANDS: list[click.Command] = [motion_command]
