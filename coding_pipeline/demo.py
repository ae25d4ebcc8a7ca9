"""The end-to-end demo: sample sessions -> clips -> Label Studio -> simulated coders -> statistics,
and a coder's seat for the person running it.

Everything is generated on the spot (nothing is downloaded): sample sessions and, for the
interviews (reflective functioning), short PDI-style transcripts with a redact.csv naming every
name in them. Each step is the same function the
CLI command of that name calls, so the demo doubles as a worked example of the Python API, and
rerunning it continues from where the previous run stopped.

The last step makes a DEMO-ONLY coder account (signed up through its own invite link, like any
coder; the generated password is printed once and kept in STUDY/.labelstudio/demo_coder.json,
mode 0600) and a batch of clips held back from the simulated coders, shared with simulated coder
A: a project nobody has rated yet, in that coder's own space. After rating there, `pull` shows
the ratings; rerunning the demo lets simulated coder A rate the same clips (blind), and
`reliability` then pairs them.
"""

from __future__ import annotations

import csv
import json
import secrets
import shutil
import string
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from coding_pipeline import batches
from coding_pipeline.study import (
    Study,
    init_study,
    read_clips,
    write_json_atomic,
    write_text_atomic,
)

SIMULATED_CODERS = ["simulated-coder-a@example.org", "simulated-coder-b@example.org"]
DEMO_CODER = "demo-coder@example.org"  # the person running the demo: a DEMO-ONLY account
DEMO_CODER_CLIPS = 3  # clips held back from the simulated coders' batch for the demo coder
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


def _held_back(study: Study) -> list[str]:
    """The clips kept for the demo coder: the last few of clips.csv (never the only ones)."""
    clip_ids = list(read_clips(study)["clip_id"])
    return clip_ids[-min(DEMO_CODER_CLIPS, len(clip_ids) // 3):] if len(clip_ids) >= 3 else []


def demo_coder_path(study: Study):
    return study.server_dir / "demo_coder.json"


def demo_coder_account(study: Study) -> tuple[str, str | None]:
    """Sign the DEMO-ONLY coder up through their own invite link (once); return the email and
    the password if it was made just now (else None: it was printed when it was made)."""
    from coding_pipeline.labelstudio.client import connect
    from coding_pipeline.labelstudio.coders import coder_invite_link, coder_session

    path = demo_coder_path(study)
    if path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("email"):
        return DEMO_CODER, None
    connection = connect(study)
    password = "Demo-" + "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
    write_json_atomic(path, {"email": DEMO_CODER, "password": password}, mode=0o600)
    session = coder_session(connection.url, DEMO_CODER, password,
                            invite=coder_invite_link(study, connection, DEMO_CODER))
    session.close()
    return DEMO_CODER, password


def _has_sessions(study: Study) -> bool:
    with study.sessions_csv.open(newline="", encoding="utf-8") as handle:
        return any(True for _ in csv.DictReader(handle))


def run_demo(
    root: Path, echo: Callable[[str], None] = print, seconds: tuple[int, int] = (60, 120),
) -> int:
    """Run every stage on a sample study in `root`; return the exit status (0 = all went well).

    `seconds` is the range of the sample sessions' lengths (tests use shorter ones).
    """
    from coding_pipeline.labelstudio.push import push_study
    from coding_pipeline.labelstudio.server import start_server

    echo(f"1/9 Study folder {root}")
    study = init_study(root, name="demo", epoch_seconds=EPOCH_SECONDS)
    if not _segment_sample(study, echo, seconds):
        return 1
    echo("4/9 Starting the study's private Label Studio (first start takes about a minute)")
    url = start_server(study)
    echo(f"  running at {url}")
    _code_with_simulated_coders(study, echo)
    _code_interviews(study, echo)
    _analyse(study, echo)
    echo("")
    echo("9/9 Your own coder seat: a DEMO-ONLY coder account and clips nobody has rated yet")
    email, password = demo_coder_account(study)
    if set(_held_back(study)) - set(batches.load_assignments(study)["clip_id"]):
        plan = batches.create_batch(study, [email, SIMULATED_CODERS[0]], reliability_share=1.0,
                                    seed=9, clip_ids=_held_back(study))
        echo(f"  {plan.name}: {len(_held_back(study))} clips for you and SIMULATED coder A, "
             "each in a space of their own")
    echo(f"  {push_study(study)}")
    _coder_seat(study, url, email, password, echo)
    return 0


def _segment_sample(study: Study, echo: Callable[[str], None],
                    seconds: tuple[int, int]) -> bool:
    """Steps 2 and 3: sample sessions (made once) cut into clips; False on a problem."""
    from coding_pipeline.segment import segment_study

    if not _has_sessions(study):
        echo("2/9 Generating sample sessions (4 dyads x 2 timepoints, moving picture and sound)")
        make_sample_sessions(study, echo, seconds)
    else:
        echo("2/9 Sample sessions already listed in sessions.csv")
    echo("3/9 Segmenting sessions into clips")
    report = segment_study(study)
    for line in report.warnings:
        echo(f"  warning: {line}")
    for line in report.problems:
        echo(f"  problem: {line}")
    if not report.problems:
        echo(f"  {report.clips_written} clips written, "
             f"{report.sessions_skipped} sessions already done")
    return not report.problems


def _code_with_simulated_coders(study: Study, echo: Callable[[str], None]) -> None:
    """Steps 5 to 7: a batch for the simulated coders, pushed, rated, pulled."""
    from coding_pipeline.labelstudio.pull import pull_study
    from coding_pipeline.labelstudio.push import push_study
    from coding_pipeline.labelstudio.simulate import simulate_coders

    echo("5/9 Planning a batch for two SIMULATED coders (every clip double-coded; "
         f"{len(_held_back(study))} kept for you)")
    clips_in_batches = set(batches.load_assignments(study)["clip_id"])
    theirs = [c for c in read_clips(study)["clip_id"] if c not in set(_held_back(study))]
    if set(theirs) - clips_in_batches:
        plan = batches.create_batch(study, SIMULATED_CODERS, reliability_share=1.0, seed=7,
                                    clip_ids=theirs)
        echo(batches.format_plan(plan))
    else:
        echo("  every clip is already in a batch")
    echo("6/9 Pushing clips to Label Studio (blinded: only an opaque clip id and the video)")
    echo(f"  {push_study(study)}")
    echo("   SIMULATED coders rate every clip through the API (realistic disagreement)")
    made = simulate_coders(study, SIMULATED_CODERS, seed=11)
    echo(f"  {made} simulated annotations submitted")
    echo("7/9 Pulling the ratings back")
    echo(f"  {pull_study(study)}")


def make_sample_interviews(study: Study) -> None:
    """Write a short generated PDI-style transcript per sample session (the first a .docx, the
    others text), list them in interviews.csv, and every name in them in redact.csv."""
    from coding_pipeline.transcripts import synth

    folder = study.root / "interviews"
    folder.mkdir(exist_ok=True)
    rows, rules = [], []
    for number, (dyad, arm, _age) in enumerate(DYADS):
        family = synth.family(number)
        for visit, timepoint in enumerate(TIMEPOINTS):
            name = f"{dyad}_{timepoint}" + (".docx" if number == visit == 0 else ".txt")
            lines = synth.interview(family, seed=number * 10 + visit)
            synth.write_transcript(folder / name, lines, markers="prefix" if visit else None)
            rows.append(f"{dyad},{timepoint},{arm},interviews/{name}")
        rules += [f"{r['dyad_id']},{r['term']},{r['replacement']}"
                  for r in synth.redact_rows(family, dyad)
                  if f"{r['dyad_id']},{r['term']},{r['replacement']}" not in rules]
        rules += [f"{dyad},{family.relative},[RELATIVE]",
                  f"{dyad},{family.relative_place},[PLACE]"]
    write_text_atomic(study.interviews_csv,
                      "\n".join(["dyad_id,timepoint,arm,transcript", *rows]) + "\n")
    write_text_atomic(study.redact_csv,
                      "\n".join(["dyad_id,term,replacement", *rules]) + "\n")


def _code_interviews(study: Study, echo: Callable[[str], None]) -> None:
    """The interviews: sample transcripts read and de-identified, a batch of them for the
    SIMULATED coders (every interview double-coded), pushed, rated, pulled."""
    from coding_pipeline.labelstudio.pull import pull_study
    from coding_pipeline.labelstudio.push import push_study
    from coding_pipeline.labelstudio.simulate import simulate_coders
    from coding_pipeline.transcripts.stage import transcripts_study

    echo("")
    echo("Interviews (reflective functioning): sample PDI-style transcripts, de-identified")
    if not study.interviews_csv.is_file() or len(
            study.interviews_csv.read_text(encoding="utf-8").strip().splitlines()) < 2:
        make_sample_interviews(study)
    report = transcripts_study(study)
    for line in report.problems + report.warnings:
        echo(f"  {line}")
    echo(f"  {len(report.results)} interviews read into {study.transcripts_dir}/ "
         f"(key: {study.transcripts_csv})")
    taken = set(batches.load_assignments(study)["clip_id"])
    if set(batches.interview_units(study)["clip_id"]) - taken:
        plan = batches.create_batch(study, SIMULATED_CODERS, reliability_share=1.0, seed=13,
                                    interviews=True)
        echo(batches.format_plan(plan))
    echo(f"  {push_study(study)}")
    echo(f"  {simulate_coders(study, SIMULATED_CODERS, seed=11)} simulated annotations submitted")
    echo(f"  {pull_study(study)}")


def _interview_figures(study: Study, echo: Callable[[str], None]) -> None:
    """The interview (RF) reliability beside the video one; RF scores are in the score files."""
    from coding_pipeline.reliability import format_interview_table, interview_reliability_study

    result = interview_reliability_study(study)
    if result is None:
        echo("  no interview ratings yet")
        return
    echo("")
    echo(format_interview_table(result))


def _analyse(study: Study, echo: Callable[[str], None]) -> None:
    """Step 8: reliability, scores and the report, and where they are."""
    from coding_pipeline.reliability import format_table, reliability_study
    from coding_pipeline.report.html import report_study
    from coding_pipeline.scores import score_study

    echo("8/9 Reliability, per-dyad scores and the report (clips, then interviews)")
    echo(format_table(reliability_study(study)))
    _interview_figures(study, echo)
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


def _coder_seat(
    study: Study, url: str, email: str, password: str | None, echo: Callable[[str], None],
) -> None:
    """The closing lines: how the person running the demo rates as a coder, and sees it."""
    from coding_pipeline.labelstudio.push import read_projects

    command = _command_name()
    projects = read_projects(study)
    mine = projects.loc[projects["coder"] == email, "title"]
    echo("")
    echo(f"Label Studio is still running at {url}")
    echo("Rate clips yourself, as a coder does (this login is for this DEMO ONLY):")
    echo(f"  login:    {email}")
    if password is not None:
        echo(f"  password: {password}   (DEMO ONLY; shown once, kept in "
             f"{demo_coder_path(study)})")
    else:
        echo(f"  password: as printed when it was made (kept in {demo_coder_path(study)})")
    echo(f"  1. open {url} in a browser and log in as above; you see only your own project")
    echo(f"     ('{mine.iloc[-1] if not mine.empty else ''}'): click 'Label All Tasks', rate "
         "every item of each clip, then Submit")
    echo(f"  2. {command} pull {study.root}        (your ratings appear as new annotations)")
    echo(f"  3. {command} demo {study.root}        (SIMULATED coder A then rates the same clips,")
    echo("     blind to yours)")
    echo(f"  4. {command} reliability {study.root} (now pairs your ratings with coder A's)")
    echo(f"Stop the server with: {command} server stop {study.root}")
