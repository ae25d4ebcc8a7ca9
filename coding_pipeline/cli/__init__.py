"""The `coding-pipeline` command: a thin layer over the package's functions.

Each area keeps its commands in its own module (segment, labelstudio, analysis); every
command parses options, calls one function, and prints what happened. An area's module is
imported when one of its commands runs (AREA_COMMANDS), so a command starts without loading
what the others need.
"""

from __future__ import annotations

import errno
import importlib
import sys
from pathlib import Path

import click

from coding_pipeline import __version__
from coding_pipeline.errors import PipelineError
from coding_pipeline.study import DEFAULT_SCHEME, init_study, permission_message

_FOLDER_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}
AREA_COMMANDS = {  # command -> the module of coding_pipeline.cli whose COMMANDS hold it
    "segment": "segment", "transcripts": "transcripts",
    "server": "labelstudio", "push": "labelstudio", "pull": "labelstudio",
    "status": "labelstudio", "coders": "labelstudio", "batch": "labelstudio",
    "consensus": "consensus", "reliability": "analysis", "scores": "analysis",
    "rois": "rois", "motion": "motion",
}


class PipelineGroup(click.Group):
    """A click group that turns `PipelineError` into a one-line message and exit status 1,
    and loads an area's commands when one of them is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *AREA_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in AREA_COMMANDS:
            module = importlib.import_module(f"coding_pipeline.cli.{AREA_COMMANDS[name]}")
            for command in module.COMMANDS:
                self.add_command(command)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            sys.exit(1)
        except OSError as exc:  # a folder or file this user may not use, a full disk
            if exc.errno not in _FOLDER_ERRORS:
                raise
            path = Path(exc.filename or ".")
            advice = (permission_message(path, "read or write") if exc.errno != errno.ENOSPC
                      else f"{path}: the disk is full: free some space and rerun (finished work "
                      "is kept).")
            click.secho(f"Error: {advice}", fg="red", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted: finished work is kept; rerun the command to continue.",
                       err=True)
            sys.exit(130)


@click.group(cls=PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coding-pipeline")
def cli() -> None:
    """Segment session videos, code them blind in Label Studio, and compute
    reliability and per-dyad scores.

    A study lives in one folder. The usual order:

    \b
      coding-pipeline init my-study          # then fill in my-study/sessions.csv
      coding-pipeline segment my-study       # cut clips for coders
      coding-pipeline transcripts my-study   # interviews: de-identified passages (RF)
      coding-pipeline server start my-study  # a private local Label Studio
      coding-pipeline coders invite my-study # a link for coders to join
      coding-pipeline batch create my-study --coders a@lab.org,b@lab.org
      coding-pipeline push my-study          # send clips to Label Studio, blinded
      coding-pipeline status my-study        # who has rated how much
      coding-pipeline pull my-study          # fetch the ratings
      coding-pipeline reliability my-study   # inter-rater reliability
      coding-pipeline consensus create my-study --coders a@lab.org   # agree disagreements
      coding-pipeline scores my-study        # per-dyad scores by timepoint
      coding-pipeline report my-study        # one HTML file with tables and plots

    Movement synchrony beside the ratings (see the README):

    \b
      coding-pipeline rois push my-study     # a still per session to draw the people on
      coding-pipeline rois pull my-study     # the boxes drawn -> rois.csv
      coding-pipeline motion my-study        # motion energy per session (rois.csv boxes)

    `coding-pipeline demo` runs all of it on generated sample sessions. Run any
    command with --help for its options and an example.
    """


@cli.command("init")
@click.argument("study", type=click.Path(path_type=Path))
@click.option("--name", help="Study name (default: the folder's name).")
@click.option("--scheme", default=DEFAULT_SCHEME, show_default=True,
              help="Coding scheme: a shipped scheme's name or a path to a YAML file.")
@click.option("--epoch", "epoch_seconds", type=click.FloatRange(min=0.01, max=86400),
              default=60.0, show_default=True, help="Clip length in seconds (0.01 to 86400).")
def init_command(study: Path, name: str | None, scheme: str, epoch_seconds: float) -> None:
    """Create a study folder with study.toml, scheme.yaml and a sessions.csv template.

    Existing files are kept. Then list one session per row in sessions.csv:

    \b
      coding-pipeline init trial-2026
      # trial-2026/sessions.csv:
      # dyad_id,timepoint,arm,video,start,end
      # D001,baseline,A,/data/videos/D001_T1.MTS,0:30,10:30
    """
    created = init_study(study, name=name, scheme=scheme, epoch_seconds=epoch_seconds)
    click.echo(f"Study folder ready: {created.root}")
    click.echo(f"  settings:  {created.toml_path}")
    click.echo(f"  scheme:    {created.scheme_path}")
    click.echo(f"  sessions:  {created.sessions_csv}  (one row per session video)")


@cli.command("demo")
@click.argument("study", type=click.Path(path_type=Path), default="demo-study")
def demo_command(study: Path) -> None:
    """Run the whole pipeline on generated sample sessions with two simulated coders.

    Makes STUDY (default ./demo-study) with 4 dyads x 2 timepoints of sample video, segments
    it, starts the study's private Label Studio, pushes the clips, lets two clearly labelled
    simulated coders rate them, pulls the ratings and prints the reliability table. It ends
    with a DEMO-ONLY coder account for you (login printed once) and a project of clips nobody
    has rated yet in your own space; the server keeps running so you can rate them. Rerunning
    continues where it stopped (simulated coder A then rates your clips too).

    \b
      coding-pipeline demo demo-study
      coding-pipeline server stop demo-study
    """
    from coding_pipeline.demo import run_demo

    sys.exit(run_demo(study, echo=click.echo))


@cli.command("report")
@click.argument("study", type=click.Path(path_type=Path))
@click.option("--unblinded", is_flag=True,
              help="Add the breakdowns by trial arm (for analysts only: do not show it to "
                   "coders). The title says so.")
@click.option("--motion-session", metavar="DYAD:TIMEPOINT",
              help="With motion series (STUDY/motion/): the session whose motion traces and "
                   "cross-correlation map the movement-synchrony section shows (default: the "
                   "first with a score). Blinded reports call it 'session k'.")
def report_command(study: Path, unblinded: bool, motion_session: str | None) -> None:
    """Write STUDY/report.html: methods paragraph, reliability, D-study, coder pairs and
    bias, drift, certification and scores; with motion series in STUDY/motion/, movement
    synchrony (real against pseudo-synchrony, one session's traces and cross-correlation map).

    One self-contained file (figures embedded, nothing loaded from the network) to open in
    any browser or attach to a lab meeting's notes. Reliability and scores are recomputed
    from ratings.csv first. Blinded by default: no trial arm anywhere, so coders may see it.

    \b
      coding-pipeline pull trial-2026
      coding-pipeline report trial-2026
      coding-pipeline report trial-2026 --unblinded   # adds scores by arm, for analysts
      coding-pipeline report trial-2026 --motion-session D001:baseline
    """
    from coding_pipeline.cli.analysis import echo_warnings
    from coding_pipeline.report.html import report_study
    from coding_pipeline.study import load_study

    warnings: list[str] = []
    path = report_study(load_study(study), warnings=warnings, unblinded=unblinded,
                        motion_session=motion_session)
    echo_warnings(warnings)
    click.echo(f"Report written: {path}")


def main() -> None:
    cli(prog_name="coding-pipeline")
