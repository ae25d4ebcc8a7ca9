"""CLI commands for regions of interest: `rois push` and `rois pull` (see cli/__init__.py)."""

from __future__ import annotations

from pathlib import Path

import click

from coding_pipeline.study import load_study

STUDY = click.argument("study", type=click.Path(path_type=Path, file_okay=False))
URL = click.option(
    "--url", help="Label Studio URL (default: $LABEL_STUDIO_URL, study.toml, the study's own "
    "server). The token comes from $LABEL_STUDIO_API_KEY or the study's own server.")


@click.group("rois")
def rois_group() -> None:
    """Regions of interest for movement synchrony: where the caregiver, the child and a still
    part of the background are in each session's picture (rois.csv).

    Draw them on one still per session in Label Studio, in a project only the admin sees on
    the study's own server, then read them back into rois.csv. A rois.csv written by hand
    (dyad_id,timepoint,role,x,y,w,h as fractions of the picture) works the same.

    \b
      coding-pipeline rois push my-study     # one still per session, into Label Studio
      # draw caregiver, child and background boxes on each still, submit
      coding-pipeline rois pull my-study     # rois.csv
      coding-pipeline motion my-study        # motion energy per session, motion/
    """


@rois_group.command("push")
@STUDY
@URL
@click.option("--yes", is_flag=True,
              help="Push to a server without coder spaces although every member of it "
                   "(coders included) could open the ROI project and its stills.")
def rois_push(study: Path, url: str | None, yes: bool) -> None:
    """Put one still per session of sessions.csv (10 s after its start, as displayed) into
    the admin's ROI project, with caregiver, child and background rectangle labels.

    The stills are kept in STUDY/rois/frames/ under opaque names; STUDY/rois/frames.csv says
    which still shows which family: keep it private. Sessions already pushed are skipped.
    On any server but the study's own, every member could see the stills: say --yes.
    """
    from coding_pipeline.labelstudio.rois import push_rois
    from coding_pipeline.motion.roi_files import frame_key_csv

    opened = load_study(study)
    report = push_rois(opened, url=url, allow_shared=yes)
    if report.shared:
        click.echo("Warning: this server has no coder spaces: every member of it, coders "
                   "included, can open the ROI project and its stills.", err=True)
    for problem in report.skipped:
        click.echo(f"Skipped: {problem}", err=True)
    click.echo(f"{report.frames_written} still(s) written, {report.frames_uploaded} uploaded, "
               f"{report.tasks_created} added to the ROI project.")
    click.echo(f"Draw the boxes at {report.project_url}")
    click.echo(f"Frame key (keep it private): {frame_key_csv(opened)}")


@rois_group.command("pull")
@STUDY
@URL
@click.option("--replace", is_flag=True,
              help="Let the boxes drawn in Label Studio replace rows of rois.csv that were "
                   "written or edited by hand (a copy is kept in STUDY/rois/history/).")
def rois_pull(study: Path, url: str | None, replace: bool) -> None:
    """Read the boxes drawn in the ROI project into STUDY/rois.csv (fractions of the picture),
    checked: inside the picture, caregiver and child present, overlaps warned.

    Sessions not drawn in Label Studio keep their rows; rows written or edited by hand for a
    session that was drawn are only replaced with --replace. Every rois.csv replaced is kept
    in STUDY/rois/history/.
    """
    from coding_pipeline.labelstudio.rois import pull_rois

    report = pull_rois(load_study(study), url=url, replace=replace)
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if not report.sessions_written:
        click.echo(f"Nothing drawn yet ({report.not_drawn} still(s) without boxes): "
                   "rois.csv unchanged.")
        return
    kept = f", {report.sessions_kept} other session(s) kept" if report.sessions_kept else ""
    click.echo(f"Written: {report.path} ({report.sessions_written} session(s) drawn{kept}; "
               f"{report.not_drawn} still(s) not drawn yet).")


COMMANDS: list[click.Command] = [rois_group]
