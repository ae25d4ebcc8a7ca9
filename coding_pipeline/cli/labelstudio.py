"""CLI commands for Label Studio: server, push, pull, coders, batch, status."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from coding_pipeline.study import load_study

STUDY = click.argument("study", type=click.Path(path_type=Path, file_okay=False))
URL = click.option(
    "--url", help="Label Studio URL (default: $LABEL_STUDIO_URL, study.toml, the study's own "
    "server). The token comes from $LABEL_STUDIO_API_KEY or the study's own server.")


# ---------------------------------------------------------------- server


@click.group("server")
def server_group() -> None:
    """The study's private local Label Studio (data in STUDY/.labelstudio, on 127.0.0.1).

    \b
      coding-pipeline server start my-study
      coding-pipeline server status my-study
      coding-pipeline server credentials my-study   # login and API token: keep them private
      coding-pipeline server stop my-study
    """


@server_group.command("start")
@STUDY
@click.option("--port", type=click.IntRange(1024, 65535),
              help="Port (default: the last one used, else a free one).")
@click.option("--host", metavar="ADDRESS",
              help="Address to listen on (default: the last one used, else 127.0.0.1, which "
              "only this machine reaches). Any other address lets the network reach the videos.")
@click.option("--database", metavar="postgresql://USER@HOST:PORT/DB",
              help="Keep the server's data in this PostgreSQL database (default: SQLite in "
              "STUDY/.labelstudio). No password in the URL: it comes from PGPASSWORD or "
              "~/.pgpass (PGPASSFILE). Kept in study.toml for restarts.")
@click.option("--public-url", metavar="https://HOST",
              help="The address remote coders open (a TLS reverse proxy in front): runs the "
              "server under gunicorn with its host names, CSRF origins and secure cookies set "
              "from it. Kept in study.toml for restarts.")
def server_start(study: Path, port: int | None, host: str | None, database: str | None,
                 public_url: str | None) -> None:
    """Start the study's private Label Studio, or find it running; print its URL.

    The first start sets up the database (about a minute). The server keeps running after
    this command returns; stop it with `server stop`. A restart keeps the port and address
    (coders' bookmarks name them); if another program took the port, it says which one it
    moved to.

    \b
      coding-pipeline server start my-study
      coding-pipeline server start my-study --port 48333
      coding-pipeline server start my-study --host 192.168.1.20   # reachable by the lab network
      coding-pipeline server start my-study --database postgresql://coding@db.lab.org:5432/trial
      coding-pipeline server start my-study --port 8080 --public-url https://coding.our-lab.org
    """
    from coding_pipeline.labelstudio.deploy import resolve_public_url
    from coding_pipeline.labelstudio.server import start_server

    url = start_server(load_study(study), port=port, host=host, progress=click.echo,
                       database=database, public_url=public_url)
    click.echo(f"Label Studio is running at {url}")
    site = resolve_public_url(load_study(study), None)  # study.toml as start_server left it
    if site:
        click.echo(f"Coders open {site.url} (your TLS reverse proxy must forward it to {url})")
    click.echo(f"Log in with the account shown by: coding-pipeline server credentials {study}")


@server_group.command("stop")
@STUDY
def server_stop(study: Path) -> None:
    """Stop the study's private Label Studio (its data stay in STUDY/.labelstudio).

    \b
      coding-pipeline server stop my-study
    """
    from coding_pipeline.labelstudio.server import stop_server

    stopped = stop_server(load_study(study))
    click.echo("Label Studio stopped." if stopped else "Label Studio was not running.")


@server_group.command("status")
@STUDY
def server_status_command(study: Path) -> None:
    """Say whether the study's private Label Studio is running, and where.

    \b
      coding-pipeline server status my-study
    """
    from coding_pipeline.labelstudio.server import server_status

    click.echo(server_status(load_study(study)))


@server_group.command("credentials")
@STUDY
def server_credentials(study: Path) -> None:
    """Print the local server's URL, admin login, password and API token, one per line.

    These are secret: do not paste them into study files, e-mails or issue reports.

    \b
      coding-pipeline server credentials my-study
    """
    from coding_pipeline.labelstudio.server import read_credentials

    credentials = read_credentials(load_study(study))
    click.echo(f"url: {credentials.url}")
    click.echo(f"login: {credentials.email}")
    click.echo(f"password: {credentials.password}")
    click.echo(f"api token: {credentials.token}")


# ---------------------------------------------------------------- push / pull / status


@click.command("push")
@STUDY
@URL
def push_command(study: Path, url: str | None) -> None:
    """Send each batch's clips to Label Studio: one project per batch and coder.

    Blinded: tasks hold only the video, an opaque clip id and the frame rate. Safe to rerun:
    only missing tasks are imported. Plan a batch first with `batch create`.

    \b
      coding-pipeline push my-study
      LABEL_STUDIO_API_KEY=... coding-pipeline push my-study --url https://ls.lab.org
    """
    from coding_pipeline.labelstudio.push import push_study

    report = push_study(load_study(study), url=url, progress=click.echo)
    click.echo(str(report))


@click.command("pull")
@STUDY
@URL
def pull_command(study: Path, url: str | None) -> None:
    """Fetch every project's annotations into STUDY/ratings.csv, keeping each raw export.

    Prints what changed since the last pull (new, updated, removed). A failed pull changes
    no file.

    \b
      coding-pipeline pull my-study
    """
    from coding_pipeline.labelstudio.pull import pull_study

    loaded = load_study(study)
    report = pull_study(loaded, url=url, progress=click.echo)
    click.echo(str(report))
    unchanged = "" if report.ratings_written else " (unchanged)"
    click.echo(f"ratings: {loaded.ratings_csv}{unchanged}")


@click.command("status")
@STUDY
@URL
def status_command(study: Path, url: str | None) -> None:
    """Coding progress per batch and coder: assigned, rated, skipped, remaining.

    \b
      coding-pipeline status my-study
    """
    from coding_pipeline.labelstudio.status import consensus_progress, format_status, study_status

    table = study_status(load_study(study), url=url)
    click.echo(format_status(table))
    for line in consensus_progress(table):
        click.echo(line)


# ---------------------------------------------------------------- coders


@click.group("coders")
def coders_group() -> None:
    """Coders of the study's Label Studio, named by email.

    \b
      coding-pipeline coders invite my-study a@lab.org   # a sign-up link for a new coder
      coding-pipeline coders list my-study
    """


@coders_group.command("invite")
@STUDY
@click.argument("email", required=False)
@URL
def coders_invite(study: Path, email: str | None, url: str | None) -> None:
    """Print the link a new coder opens to create their account.

    On the study's own server each coder has a space of their own, where only their own
    projects are: give the coder's EMAIL, and the link signs up that email only, into that
    space. On an existing server (--url) one link serves everyone; EMAIL is then not needed.
    The coder's email names them in batches and ratings.

    \b
      coding-pipeline coders invite my-study a@lab.org
      coding-pipeline coders invite my-study --url https://ls.lab.org
    """
    from coding_pipeline.labelstudio.client import connect
    from coding_pipeline.labelstudio.coders import coder_invite_link
    from coding_pipeline.labelstudio.deploy import resolve_public_url

    loaded = load_study(study)
    connection = connect(loaded, url)
    link = coder_invite_link(loaded, connection, email)
    site = resolve_public_url(loaded, None)  # the study's own server for remote coders
    if site and link.startswith(connection.url):
        link = site.url + link[len(connection.url):]
    click.echo(link)


@coders_group.command("list")
@STUDY
@URL
def coders_list(study: Path, url: str | None) -> None:
    """List the members of the study's Label Studio: email, name, last activity.

    \b
      coding-pipeline coders list my-study
    """
    from coding_pipeline.labelstudio.client import connect
    from coding_pipeline.labelstudio.coders import format_members, list_members

    loaded = load_study(study)
    click.echo(format_members(list_members(connect(loaded, url), loaded)))


# ---------------------------------------------------------------- batches


@click.group("batch")
def batch_group() -> None:
    """Batches: which coder rates which clip, in which order.

    \b
      coding-pipeline batch create my-study --coders a@lab.org,b@lab.org
      coding-pipeline batch create my-study --training --master m@lab.org --coders a@lab.org
      coding-pipeline batch show my-study
    """


@batch_group.command("create")
@STUDY
@click.option("--coders", help="Coder emails, comma-separated.")
@click.option("--reliability", type=click.FloatRange(0, 1),
              help="Share of clips a second coder rates (default: study.toml, 0.2).")
@click.option("--seed", type=int, help="Random seed, to make the plan repeatable.")
@click.option("--name", help="Batch name (default: batch-01, batch-02, ...).")
@click.option("--training", is_flag=True, help="A training set every coder and the master code.")
@click.option("--recalibrate", metavar="CODER",
              help="A recalibration set for this coder: clips the --master has rated.")
@click.option("--master", help="With --training or --recalibrate: the master coder's email.")
@click.option("--clips", "n_clips", type=click.IntRange(min=2), default=10, show_default=True,
              help="With --training or --recalibrate: how many clips (or interviews).")
@click.option("--interviews", is_flag=True,
              help="Plan interviews (transcripts.csv) instead of clips: RF coding.")
@URL
def batch_create(
    study: Path, coders: str | None, reliability: float | None, seed: int | None,
    name: str | None, training: bool, recalibrate: str | None, master: str | None,
    n_clips: int, interviews: bool, url: str | None,
) -> None:
    """Plan a batch of every clip not yet in one and save it in STUDY/batches/.

    Each clip goes to one coder (balanced); a stratified share also to a second coder; each
    coder's order is shuffled so one family's clips do not come in a row. Every coder must
    already be a member of Label Studio (see `coders invite`). Then run `push`.

    \b
      coding-pipeline batch create my-study --coders a@lab.org,b@lab.org --reliability 0.2
      coding-pipeline batch create my-study --training --master m@lab.org \\
          --coders a@lab.org,b@lab.org --clips 10
      coding-pipeline batch create my-study --recalibrate a@lab.org --master m@lab.org
      coding-pipeline batch create my-study --interviews --coders a@lab.org,b@lab.org

    With --interviews the batch holds the interviews of transcripts.csv (run `transcripts`
    first) instead of clips, planned the same way (one mother's interviews never in a row);
    --training and --recalibrate work with it too.

    A recalibration set (for a coder `reliability` flags) holds clips the master has rated,
    those the coder has not rated first; it is pushed and scored like a training set, and
    `reliability` shows the result as a dated recertification.
    """
    from coding_pipeline import batches
    from coding_pipeline.errors import PipelineError
    from coding_pipeline.labelstudio.client import connect
    from coding_pipeline.labelstudio.coders import require_members
    from coding_pipeline.labelstudio.push import training_note

    loaded = load_study(study)
    if recalibrate:
        if not master or training or coders:
            raise PipelineError("--recalibrate CODER needs --master M (and no --training or "
                                "--coders): the coder rates clips the master has rated.")
        _recalibration_batch(loaded, study, recalibrate, master, (n_clips, seed, name),
                             interviews, url)
        return
    if not coders:
        raise PipelineError("Give --coders a@lab.org,b@lab.org (or --recalibrate CODER).")
    emails = batches.parse_coders(coders)
    if training and not master:
        raise PipelineError("--training needs --master (the master coder's email).")
    if master and not training:
        raise PipelineError("--master is for training sets: add --training.")
    everyone = emails + batches.parse_coders([master]) if master else emails
    connection = connect(loaded, url)
    require_members(connection, everyone)
    if training:
        plan = batches.create_training_batch(loaded, master, emails, n_clips=n_clips,
                                             seed=seed, name=name, interviews=interviews)
    else:
        plan = batches.create_batch(loaded, emails, reliability_share=reliability, seed=seed,
                                    name=name, interviews=interviews)
    click.echo(batches.format_plan(plan))
    if training and not connection.has_spaces:
        click.echo(f"Note: {training_note([plan.name])}")
    click.echo(f"Saved in {batches.batches_dir(loaded)}. Next: coding-pipeline push {study}")


def _recalibration_batch(loaded, study: Path, coder: str, master: str,
                         plan_options: tuple[int, int | None, str | None], interviews: bool,
                         url: str | None) -> None:
    """`batch create --recalibrate`: a set of units the master rated, for one coder
    (`plan_options`: the number of units, the seed and the batch name)."""
    n_clips, seed, name = plan_options
    from coding_pipeline import batches
    from coding_pipeline.labelstudio.client import connect
    from coding_pipeline.labelstudio.coders import require_members

    require_members(connect(loaded, url), batches.parse_coders([coder, master]))
    plan = batches.create_recalibration_batch(loaded, coder, master, n_clips=n_clips,
                                              seed=seed, name=name, interviews=interviews)
    click.echo(batches.format_plan(plan))
    click.echo(f"Saved in {batches.batches_dir(loaded)}. Next: coding-pipeline push {study}")


@batch_group.command("show")
@STUDY
@click.argument("name", required=False)
def batch_show(study: Path, name: str | None) -> None:
    """Print every batch's plan, or the one named.

    \b
      coding-pipeline batch show my-study
      coding-pipeline batch show my-study batch-01
    """
    from coding_pipeline import batches
    from coding_pipeline.errors import PipelineError
    from coding_pipeline.labelstudio.push import training_note
    from coding_pipeline.labelstudio.spaces import uses_spaces

    loaded = load_study(study)
    plans = batches.load_batches(loaded)
    if name is not None:
        plans = [p for p in plans if p.name == name]
        if not plans:
            raise PipelineError(f"No batch named '{name}' in {study}/batches.")
    if not plans:
        click.echo(f"No batches yet: coding-pipeline batch create {study} --coders ...")
    click.echo("\n\n".join(batches.format_plan(p) for p in plans))
    coding = [p.assignments for p in plans if p.kind == "coding"]
    if name is None and len(coding) > 1:
        every = pd.concat([a.assign(batch=p.name) for p, a in zip(
            [p for p in plans if p.kind == "coding"], coding, strict=True)])
        click.echo("\n" + batches.format_pair_matrix(
            batches.pair_matrix(every), "all coding batches: clips double-coded by each pair"))
    training = [p.name for p in plans if p.kind == "training"]
    if training and not uses_spaces(loaded):
        click.echo(f"\nNote: {training_note(training)}")
    if any(p.kind == "consensus" for p in plans) and loaded.ratings_csv.is_file():
        from coding_pipeline.consensus import format_recoded, recoded_after_consensus
        from coding_pipeline.ratings import study_ratings

        for line in format_recoded(recoded_after_consensus(study_ratings(loaded), plans)):
            click.echo(line)


COMMANDS: list[click.Command] = [
    server_group, push_command, pull_command, status_command, coders_group, batch_group,
]
