"""CLI commands of this area (see coding_pipeline/cli/__init__.py): `transcripts`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coding_pipeline.study import load_study
from coding_pipeline.transcripts.stage import InterviewResult, TranscriptsReport, transcripts_study

_REVIEW_SHOWN = 15  # words listed per interview by --review


@click.command("transcripts")
@click.argument("study", type=click.Path(path_type=Path))
@click.option("--review", is_flag=True,
              help="Also list, per interview, the capitalised words left that look like names "
                   "or places, with counts and an example, to add to redact.csv.")
@click.option("--reread", multiple=True, metavar="DYAD:TIMEPOINT",
              help="Read this interview's transcript again although it changed since it was "
                   "read (same transcript id). Repeat for several.")
def transcripts_command(study: Path, review: bool, reread: tuple[str, ...]) -> None:
    """Read, split and de-identify the interview transcripts listed in interviews.csv.

    Each transcript (.docx, .txt, .vtt, .srt) is read into speaker turns (labels from
    study.toml [interviews]), split into the questions of the transcript scheme
    (transcript_corrections.csv wins over what is found), and de-identified with redact.csv.
    The passages go to STUDY/transcripts/<transcript_id>.json under a random id; the key
    STUDY/transcripts.csv says which id is which interview. Prints per interview the
    questions found, uncertain and missing. Reruns change nothing unless an input changed;
    a transcript file changed since it was read is reported, not read again, until you say
    --reread DYAD:TIMEPOINT. Exit status 1 when a row or file failed or names are left.

    \b
      coding-pipeline transcripts trial-2026
      coding-pipeline transcripts trial-2026 --review
      coding-pipeline transcripts trial-2026 --reread D001:baseline
    """
    report = transcripts_study(load_study(study), review=review, reread=reread)
    for warning in report.warnings:
        click.secho(f"Warning: {warning}", fg="yellow", err=True)
    for result in report.results:
        _echo_result(result, review)
    for problem in report.problems:
        click.secho(f"Error: {problem}", fg="red", err=True)
    leaking = [r for r in report.results if r.leaks]
    if leaking:
        click.secho(f"{len(leaking)} transcript(s) still name what redact.csv or the dyad id "
                    "says must go: add rules to redact.csv and rerun; `push` will refuse them.",
                    fg="red", err=True)
    _echo_summary(report)
    if report.problems or leaking:
        sys.exit(1)


def _echo_result(result: InterviewResult, review: bool) -> None:
    found = result.by_status
    parts = [f"{len(found['found'])} found"]
    for status in ("uncertain", "missing"):
        if found[status]:
            parts.append(f"{status}: {', '.join(found[status])}")
    if result.extras:
        parts.append(f"{result.extras} extra passage(s)")
    state = "new" if result.new else ("updated" if result.written else "unchanged")
    click.echo(f"{result.transcript_id} ({result.dyad_id} {result.timepoint} "
               f"{result.interview}, {state}): {'; '.join(parts)}")
    if result.leaks:
        click.secho(f"  still in the text after redaction: {', '.join(result.leaks)}",
                    fg="red")
    if review:
        for item in result.review[:_REVIEW_SHOWN]:
            where = " (only at a sentence's start)" if item.sentence_start_only else ""
            click.echo(f"  {item.word} x{item.count}{where}, turn {item.turn}: "
                       f"\"{item.example}\"")
        if len(result.review) > _REVIEW_SHOWN:
            click.echo(f"  ... and {len(result.review) - _REVIEW_SHOWN} more")
        if not result.review:
            click.echo("  no capitalised words left that look like names or places")


def _echo_summary(report: TranscriptsReport) -> None:
    written = sum(r.written for r in report.results)
    click.echo(f"{len(report.results)} interviews done, {written} passages files written, "
               f"{len(report.problems)} failed; key "
               f"{'written' if report.key_written else 'unchanged'}.")
    if report.kept:
        click.echo(f"Kept in the key though no longer in interviews.csv: "
                   f"{', '.join(report.kept)}.")


COMMANDS: list[click.Command] = [transcripts_command]
