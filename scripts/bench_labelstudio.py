"""Benchmark: push of 5,000 tasks and pull of 10,000 annotations against a real local Label Studio,
each beside a one-request-per-task baseline; with --database, the lab server's load on PostgreSQL.

    .venv/bin/python scripts/bench_labelstudio.py [--tasks 5000] [--coders 1] \
        [--baseline-sample 300]
    .venv/bin/python scripts/bench_labelstudio.py --database postgresql://USER@HOST:PORT/DB

Starts a private Label Studio in a temporary study folder (about a minute on first boot), then:

- push: a study of --tasks clips (hard links to one tiny clip) in one batch shared by --coders
  coders (each clip once); times `push_study` (bulk import in chunks). Baseline: the same tasks
  imported with one request per task into another project, measured on --baseline-sample tasks
  and extrapolated.
- pull: --coders coders' projects holding --tasks clips double-coded (2 x --tasks tasks), every
  task with one annotation of every scheme item (2 x --tasks annotations), made by importing
  tasks with their annotations; times `pull_study` (one export per project, ratings.csv
  written). Baseline: reading each task's annotations with one request per task
  (GET /api/tasks/{id}/annotations/), measured on --baseline-sample tasks and extrapolated.

- status: `study_status` of the pull study (every task rated), then again after one task was
  skipped (a project with skips is read task by task). Baseline: what status did before, one
  full JSON export per project.

--database runs the server on PostgreSQL: the benchmark connects with that URL (password from
PGPASSWORD or ~/.pgpass), creates a database of its own there (the user needs CREATEDB), and
drops it at the end. Its defaults become --tasks 20000 --coders 10: 20,000 tasks pushed for 10
coders, 40,000 annotations pulled.

Every figure is printed in one run; the server is stopped at the end, then the table of figures
and one JSON line per figure (see bench_harness.py).

    .venv/bin/python scripts/bench_labelstudio.py --quick --check   # 40 tasks; CI
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from bench_harness import Figure, Report, Stopwatch, parse_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import write_clip  # noqa: E402  (the tests' tiny H.264/AAC clip writer)
from label_studio_sdk import LabelStudio  # noqa: E402

from coding_pipeline import batches  # noqa: E402
from coding_pipeline.labelstudio import deploy  # noqa: E402
from coding_pipeline.labelstudio.client import connect  # noqa: E402
from coding_pipeline.labelstudio.coders import coder_session, invite_link  # noqa: E402
from coding_pipeline.labelstudio.config import render_label_config  # noqa: E402
from coding_pipeline.labelstudio.pull import pull_study  # noqa: E402
from coding_pipeline.labelstudio.push import (  # noqa: E402
    PROJECT_COLUMNS,
    local_file_url,
    project_title,
    push_study,
)
from coding_pipeline.labelstudio.server import read_credentials, start_server, stop_server  # noqa: E402
from coding_pipeline.labelstudio.simulate import annotation_result, simulated_ratings  # noqa: E402
from coding_pipeline.labelstudio.status import study_status  # noqa: E402
from coding_pipeline.scheme import load_scheme  # noqa: E402
from coding_pipeline.study import Study, init_study, write_csv_atomic  # noqa: E402


def make_clips(study: Study, count: int, prefix: str) -> None:
    """clips.csv with `count` clips, each a hard link to one real tiny clip."""
    study.clips_dir.mkdir(exist_ok=True)
    original = write_clip(study.root / "one-clip.mp4")
    rows = []
    for number in range(count):
        clip_id = f"{prefix}{number:06d}"
        target = study.clips_dir / f"{clip_id}.mp4"
        if not target.exists():
            os.link(original, target)
        rows.append({"clip_id": clip_id, "dyad_id": f"D{number % 400:03d}",
                     "timepoint": f"T{number % 2}", "arm": "", "source": "x.mp4",
                     "start_s": 0, "end_s": 2, "file": f"clips/{clip_id}.mp4", "fps": 25,
                     "frames": 50, "qc": "ok"})
    write_csv_atomic(study.clips_csv, pd.DataFrame(rows))


def coder_names(kind: str, count: int) -> list[str]:
    return [f"{kind}-coder-{chr(97 + n % 26)}{n // 26 or ''}@example.org" for n in range(count)]


def bench_push(host: Study, url: str, token: str, args, report: Report) -> None:
    study = init_study(host.root.parent / "push-study")
    root = Path(read_credentials(host).document_root)
    study = deploy.set_label_studio_setting(study, "document_root", str(root))  # local files
    make_clips(study, args.tasks, "p")
    batches.create_batch(study, coder_names("push", args.coders), reliability_share=0.0, seed=1)
    with Stopwatch() as watch:
        pushed = push_study(study, url=url, token=token)
    ours = watch.timing.wall_s
    assert pushed.tasks_imported == args.tasks, pushed

    client = LabelStudio(base_url=url, api_key=token)
    scheme = load_scheme(study.scheme_path)
    project = client.projects.create(title="baseline push", label_config=render_label_config(
        scheme))
    sample = args.baseline_sample
    with Stopwatch() as watch:
        for number in range(sample):
            path = study.clips_dir / f"p{number:06d}.mp4"
            client.projects.import_tasks(id=project.id, request=[{
                "video": local_file_url(path, root), "clip_id": f"p{number:06d}", "fps": 25}])
    per_task = watch.timing.wall_s / sample
    baseline = per_task * args.tasks
    print(f"push {args.tasks:,} tasks ({args.coders} coders): ours {ours:7.1f} s   baseline one "
          f"request per task {baseline:7.1f} s (measured {sample} tasks, "
          f"{per_task * 1000:.1f} ms each, extrapolated)")
    name = f"push {args.tasks} tasks"
    report.add(Figure(f"{name}: speed-up over one request per task (extrapolated)", ours,
                      baseline, goal=10.0))
    report.add(Figure.within(name, ours, 60.0))


def make_pull_study(host: Study, url: str, token: str, tasks: int, count: int) -> Study:
    """A study whose coders' projects (made directly on the server) hold `tasks` clips
    double-coded, every task with one annotation by its coder; projects.csv lists them."""
    study = init_study(host.root.parent / "pull-study")
    make_clips(study, tasks, "q")
    coders = coder_names("pull", max(count, 2))
    plan = batches.create_batch(study, coders, reliability_share=1.0, seed=2)
    connection = connect(study, url=url, token=token)
    invite = invite_link(connection)
    for coder in coders:
        coder_session(url, coder, "Bench-pass-123456", invite=invite).close()
    users = {u.email: u.id for u in connection.client.users.list()}
    scheme = load_scheme(study.scheme_path)
    config = render_label_config(scheme)
    root = Path(read_credentials(host).document_root)
    records = []
    for coder in coders:
        title = project_title(plan.name, coder)
        project = connection.client.projects.create(title=title, label_config=config)
        queue = plan.assignments[plan.assignments["coder"] == coder].sort_values("order")
        payload = [{
            "data": {"video": local_file_url(study.clips_dir / f"{c}.mp4", root),
                     "clip_id": c, "fps": 25},
            "annotations": [{"result": annotation_result(simulated_ratings(scheme, c, coder, 0)),
                             "completed_by": users[coder], "lead_time": 90.0,
                             "ground_truth": False}],  # as a coder's own annotation
        } for c in queue["clip_id"]]
        for start in range(0, len(payload), 1000):
            connection.client.projects.import_tasks(id=project.id,
                                                    request=payload[start:start + 1000])
        records.append({"batch": plan.name, "coder": coder, "project_id": str(project.id),
                        "title": title, "scheme_name": scheme.name,
                        "scheme_version": str(scheme.version), "scheme_hash": scheme.content_hash,
                        "created_at": "", "space": ""})
    write_csv_atomic(study.root / "projects.csv", pd.DataFrame(records)[PROJECT_COLUMNS])
    return study


def bench_pull(host: Study, url: str, token: str, args, report: Report) -> Study:
    tasks, sample = args.tasks, args.baseline_sample
    study = make_pull_study(host, url, token, tasks, args.coders)
    with Stopwatch() as watch:
        pulled = pull_study(study, url=url, token=token)
    ours = watch.timing.wall_s
    assert pulled.annotations == 2 * tasks, pulled

    client = LabelStudio(base_url=url, api_key=token)
    first_project = int(pd.read_csv(study.root / "projects.csv")["project_id"].iloc[0])
    task_ids = [t.id for t in client.tasks.list(project=first_project,
                                                page_size=sample)][:sample]
    fetched = 0
    with Stopwatch() as watch:
        for task_id in task_ids:
            fetched += len(client.annotations.list(id=task_id))
    per_task = watch.timing.wall_s / len(task_ids)
    assert fetched == len(task_ids)
    baseline = per_task * 2 * tasks
    print(f"pull {2 * tasks:,} annotations ({max(args.coders, 2)} coders): ours {ours:7.1f} s   "
          f"baseline one request per task {baseline:7.1f} s (measured {len(task_ids)} tasks, "
          f"{per_task * 1000:.1f} ms each, extrapolated)")
    name = f"pull {2 * tasks} annotations"
    report.add(Figure(f"{name}: speed-up over one request per task (extrapolated)", ours,
                      baseline, goal=10.0))
    report.add(Figure.within(name, ours, 60.0 if args.database else 30.0))
    return study


def bench_status(study: Study, url: str, token: str, tasks: int, report: Report) -> None:
    connection = connect(study, url=url, token=token)
    project_ids = [int(p) for p in pd.read_csv(study.root / "projects.csv")["project_id"]]
    with Stopwatch() as watch:
        table = study_status(study, url=url, token=token)
    counters = watch.timing.wall_s
    assert int(table["rated"].sum()) == 2 * tasks, table
    task = next(iter(connection.client.tasks.list(project=project_ids[0], page_size=1)))
    connection.client.annotations.create(id=task.id, result=[], was_cancelled=True)
    with Stopwatch() as watch:
        study_status(study, url=url, token=token)
    with_skips = watch.timing.wall_s

    with Stopwatch() as watch:
        for project_id in project_ids:  # the old way: one full export per project
            json.loads(b"".join(connection.client.projects.exports.download_sync(
                project_id, export_type="JSON", download_all_tasks=True)))
    baseline = watch.timing.wall_s
    print(f"status {2 * tasks:,} tasks: ours {counters:7.2f} s (counters), {with_skips:.2f} s "
          f"(one project with a skip, read task by task)   baseline one export per project "
          f"{baseline:7.2f} s")
    name = f"status {2 * tasks} tasks"
    report.add(Figure(f"{name}: speed-up over one export per project (counters)", counters,
                      baseline))
    report.add(Figure(f"{name}: speed-up over one export per project (one project with a "
                      "skip)", with_skips, baseline))


@contextlib.contextmanager
def own_database(given: str | None) -> Iterator[str | None]:
    """A fresh database on the PostgreSQL server of `given` (dropped afterwards), or None."""
    if given is None:
        yield None
        return
    import psycopg

    server = deploy.parse_database_url(given)
    name = f"bench_{secrets.token_hex(4)}"

    def admin() -> psycopg.Connection:
        return psycopg.connect(host=server.host, port=server.port, user=server.user,
                               dbname=server.name, autocommit=True)

    with admin() as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield deploy.Database(server.user, server.host, server.port, name).url
    finally:
        with admin() as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int)
    parser.add_argument("--coders", type=int)
    parser.add_argument("--baseline-sample", type=int, default=300)
    parser.add_argument("--database", metavar="postgresql://USER@HOST:PORT/DB",
                        help="run the server on PostgreSQL (default: SQLite)")
    args = parse_args(parser, quick={"tasks": 40, "coders": 1, "baseline_sample": 10})
    args.tasks = args.tasks or (20000 if args.database else 5000)
    args.coders = args.coders or (10 if args.database else 1)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="bench-ls-") as folder, \
            own_database(args.database) as database:
        host = init_study(Path(folder) / "server")
        where = "PostgreSQL" if database else "SQLite"
        print(f"Starting a private Label Studio on {where} (first boot takes a minute or two)...")
        url = start_server(host, document_root=Path(folder).resolve(), database=database)
        try:
            token = read_credentials(host).token
            bench_push(host, url, token, args, report)
            pulled = bench_pull(host, url, token, args, report)
            bench_status(pulled, url, token, args.tasks, report)
        finally:
            stop_server(host)
    sys.exit(report.finish(args.check))


if __name__ == "__main__":
    main()
