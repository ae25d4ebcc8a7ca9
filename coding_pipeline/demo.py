"""The end-to-end demo: sample sessions -> clips -> Label Studio -> simulated coders -> statistics.

Everything is generated on the spot (nothing is downloaded). Each step is the same function the
CLI command of that name calls, so the demo doubles as a worked example of the Python API, and
rerunning it continues from where the previous run stopped.
"""

from __future__ import annotations

import csv
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from coding_pipeline import batches
from coding_pipeline.study import Study, init_study, read_clips, write_text_atomic

SIMULATED_CODERS = ["simulated-coder-a@example.org", "simulated-coder-b@example.org"]
DYADS = [("D01", "treatment", 14), ("D02", "control", 22), ("D03", "treatment", 31),
         ("D04", "control", 9)]
TIMEPOINTS = ["baseline", "post"]
EPOCH_SECONDS = 30.0


def make_sample_sessions(
    study: Study, echo: Callable[[str], None] = print, seconds: tuple[int, int] = (60, 120),
) -> None:
    """Write 4 dyads x 2 timepoints of sample video (60-120 s) and list them in sessions.csv."""
    from coding_pipeline.video.synth import write_sample_video

    videos = study.root / "videos"
    videos.mkdir(exist_ok=True)
    rng = np.random.default_rng(2026)
    rows = []
    for number, (dyad, arm, age) in enumerate(DYADS):
        for visit, timepoint in enumerate(TIMEPOINTS):
            path = videos / f"{dyad}_{timepoint}.mp4"
            length = int(rng.integers(seconds[0], seconds[1] + 1))
            if not path.exists():
                echo(f"  generating {path.name} ({length} s)")
                write_sample_video(path, seconds=length, seed=number * 10 + visit)
            # the first session starts a few seconds in, as a real one would after set-up
            start = "0:05" if (number, visit) == (0, 0) else ""
            rows.append([dyad, timepoint, arm, f"videos/{path.name}", start, "",
                         age + 6 * visit])
    lines = ["dyad_id,timepoint,arm,video,start,end,child_age_months"]
    lines += [",".join(str(v) for v in row) for row in rows]
    write_text_atomic(study.sessions_csv, "\n".join(lines) + "\n")


def _command_name() -> str:
    """How to call coding-pipeline from a shell: by name when on PATH, else by its full path."""
    installed = Path(sys.executable).parent / "coding-pipeline"
    if shutil.which("coding-pipeline") or not installed.exists():
        return "coding-pipeline"
    return str(installed)


def _has_sessions(study: Study) -> bool:
    with study.sessions_csv.open(newline="", encoding="utf-8") as handle:
        return any(True for _ in csv.DictReader(handle))


def run_demo(
    root: Path, echo: Callable[[str], None] = print, seconds: tuple[int, int] = (60, 120),
) -> int:
    """Run every stage on a sample study in `root`; return the exit status (0 = all went well).

    `seconds` is the range of the sample sessions' lengths (tests use shorter ones).
    """
    from coding_pipeline.labelstudio.pull import pull_study
    from coding_pipeline.labelstudio.push import push_study
    from coding_pipeline.labelstudio.server import start_server
    from coding_pipeline.labelstudio.simulate import simulate_coders
    from coding_pipeline.reliability import format_table, reliability_study
    from coding_pipeline.report.html import report_study
    from coding_pipeline.scores import score_study
    from coding_pipeline.segment import segment_study

    echo(f"1/8 Study folder {root}")
    study = init_study(root, name="demo", epoch_seconds=EPOCH_SECONDS)
    if not _has_sessions(study):
        echo("2/8 Generating sample sessions (4 dyads x 2 timepoints, moving picture and sound)")
        make_sample_sessions(study, echo, seconds)
    else:
        echo("2/8 Sample sessions already listed in sessions.csv")

    echo("3/8 Segmenting sessions into clips")
    report = segment_study(study)
    for line in report.warnings:
        echo(f"  warning: {line}")
    for line in report.problems:
        echo(f"  problem: {line}")
    if report.problems:
        return 1
    echo(f"  {report.clips_written} clips written, {report.sessions_skipped} sessions already done")

    echo("4/8 Starting the study's private Label Studio (first start takes about a minute)")
    url = start_server(study)
    echo(f"  running at {url}")

    echo("5/8 Planning a batch for two SIMULATED coders (every clip double-coded)")
    clips_in_batches = set(batches.load_assignments(study)["clip_id"])
    if set(read_clips(study)["clip_id"]) - clips_in_batches:
        plan = batches.create_batch(study, SIMULATED_CODERS, reliability_share=1.0, seed=7)
        echo(batches.format_plan(plan))
    else:
        echo("  every clip is already in a batch")

    echo("6/8 Pushing clips to Label Studio (blinded: only an opaque clip id and the video)")
    push_report = push_study(study)
    echo(f"  {push_report}")

    echo("   SIMULATED coders rate every clip through the API (realistic disagreement)")
    made = simulate_coders(study, SIMULATED_CODERS, seed=11)
    echo(f"  {made} simulated annotations submitted")

    echo("7/8 Pulling the ratings back")
    pull_report = pull_study(study)
    echo(f"  {pull_report}")

    echo("8/8 Reliability, per-dyad scores and the report")
    result = reliability_study(study)
    echo(format_table(result))
    written = score_study(study)
    report = report_study(study)

    echo("")
    echo("Where things are:")
    echo(f"  clips and clip key:  {study.clips_dir}/, {study.clips_csv}")
    echo(f"  ratings:             {study.ratings_csv} (raw exports in {study.exports_dir}/)")
    echo(f"  reliability:         {study.reliability_dir}/")
    echo(f"  scores:              {study.scores_dir}/ "
         f"({', '.join(sorted(p.name for p in written.values()))})")
    echo(f"  report:              {report}")
    echo("")
    echo(f"Label Studio is still running at {url}")
    echo("To rate a clip by hand:")
    command = _command_name()
    echo(f"  1. {command} server credentials {root}   (prints the login; keep it private)")
    echo(f"  2. open {url} in a browser and log in with that email and password")
    echo("  3. open a project such as 'batch-01 - simulated-coder-a@example.org',")
    echo("     click 'Label All Tasks', rate every item, then Submit (or Update)")
    echo(f"  4. {command} pull {root}   then   {command} reliability {root}")
    echo(f"Stop the server with: {command} server stop {root}")
    return 0
