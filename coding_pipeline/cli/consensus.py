"""CLI commands of the consensus area: `consensus create` (see cli/__init__.py)."""

from __future__ import annotations

from pathlib import Path

import click

from coding_pipeline.cli.labelstudio import STUDY, URL
from coding_pipeline.study import load_study


@click.group("consensus")
def consensus_group() -> None:
    """Consensus on the double-coded clips whose coders disagree.

    \b
      coding-pipeline consensus create my-study --threshold 1 --coders ana@lab.org
      coding-pipeline push my-study      # one consensus project, the ratings shown
      coding-pipeline pull my-study      # agreed ratings arrive with role consensus
    """


@consensus_group.command("create")
@STUDY
@click.option("--threshold", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Send a clip when its coders' ratings differ by more than this many scale "
                   "points on any item (or composite, with --composite).")
@click.option("--coders", help="Who records the agreed ratings (emails, comma-separated): one "
              "of the pair, for a meeting, or a master coder. Default: the study's master coder.")
@click.option("--name", help="Batch name (default: consensus-01, consensus-02, ...).")
@click.option("--composite", is_flag=True,
              help="Compare composites (mean of their items) instead of single items.")
@click.option("--seed", type=int, help="Random seed of the clips' order.")
@click.option("--interviews", is_flag=True,
              help="Interviews instead of clips: the double-coded interviews whose coders "
                   "disagree on a demand question or the overall RF (or a composite).")
@URL
def consensus_create(
    study: Path, threshold: float, coders: str | None, name: str | None, composite: bool,
    seed: int | None, interviews: bool, url: str | None,
) -> None:
    """Make a consensus batch of the double-coded study clips (not training) whose
    independent ratings differ by more than --threshold, and that are in no consensus batch
    yet. Rerunning adds only clips that newly disagree.

    Writes STUDY/batches/NAME.csv (role consensus) and NAME.json (the threshold and every
    disagreement). `push` then makes the consensus project: each task shows the clip, every
    coder's rating of every item as Coder 1 / Coder 2 (no names), the disagreeing items
    marked, and the rating controls and a notes box for the agreed rating. With --interviews
    the same for interviews (transcripts.csv): the batch says "unit": "interview" and its
    tasks show the interview with the coders' ratings in each row.

    \b
      coding-pipeline consensus create my-study --threshold 1 --coders ana@lab.org
      coding-pipeline consensus create my-study --composite --threshold 0.5 --coders m@lab.org
      coding-pipeline consensus create my-study --interviews --threshold 1 --coders m@lab.org
    """
    from coding_pipeline import batches
    from coding_pipeline.consensus import create_consensus_batch, format_recoded
    from coding_pipeline.labelstudio.client import connect
    from coding_pipeline.labelstudio.coders import require_members

    loaded = load_study(study)
    if coders:
        require_members(connect(loaded, url), batches.parse_coders(coders))
    result = create_consensus_batch(loaded, coders, threshold=threshold, composite=composite,
                                    name=name, seed=seed, interviews=interviews)
    unit = "interview" if interviews else "clip"
    for line in format_recoded(result.recoded, unit=unit):
        click.echo(line)
    if result.plan is None:
        click.echo(f"No new {unit} differs by more than {threshold:g} scale point(s): nothing "
                   f"added ({unit}s already in a consensus batch are not sent again).")
        return
    click.echo(batches.format_plan(result.plan))
    click.echo(f"Saved in {batches.batches_dir(loaded)}. Next: coding-pipeline push {study}")


COMMANDS: list[click.Command] = [consensus_group]
