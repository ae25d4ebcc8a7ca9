"""The reliability and scores commands: options, files written, one-line errors."""

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

from coding_pipeline.cli import cli
from coding_pipeline.study import init_study, schemes_dir

SCHEME = schemes_dir() / "sensitivity_involvement_reciprocity.yaml"
ITEMS = ["acknowledging", "warmth", "contingent_response", "intrusiveness"]


def write_ratings(path, n_clips=12, value=None):
    rng = np.random.default_rng(0)
    rows = []
    for clip in range(n_clips):
        truth = int(rng.integers(1, 6))
        for coder in ("a@lab.org", "b@lab.org"):
            for item in ITEMS:
                rated = int(np.clip(truth + rng.integers(-1, 2), 1, 5))
                rows.append({"clip_id": f"c{clip}", "coder": coder, "item": item,
                             "value": rated, "extra": "ignored"})
    table = pd.DataFrame(rows)
    if value is not None:
        table.loc[5, "value"] = value
    table.to_csv(path, index=False)


def test_reliability_from_any_ratings_file(tmp_path):
    write_ratings(tmp_path / "r.csv")
    out = tmp_path / "out.json"
    result = CliRunner().invoke(cli, [
        "reliability", "--ratings", str(tmp_path / "r.csv"), "--scheme", str(SCHEME),
        "--json", str(out), "--bootstrap", "100", "--seed", "3",
    ])
    assert result.exit_code == 0, result.output
    assert "acknowledging" in result.output and "sensitivity (composite)" in result.output
    saved = json.loads(out.read_text())
    assert saved["items"]["warmth"]["alpha"]["resamples"] == 100
    assert saved["items"]["warmth"]["n_clips"] == 12
    assert saved["items"]["withdrawal"]["alpha"]["value"] is None  # never rated: says why
    assert saved["items"]["withdrawal"]["alpha"]["reason"]


def test_reliability_of_a_study_writes_its_files(tmp_path):
    study = init_study(tmp_path / "s")
    write_ratings(study.ratings_csv)
    result = CliRunner().invoke(cli, ["reliability", str(study.root), "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    assert (study.reliability_dir / "reliability.json").is_file()
    assert (study.reliability_dir / "reliability.csv").is_file()


def test_bad_value_is_a_one_line_error(tmp_path):
    write_ratings(tmp_path / "r.csv", value=9)
    result = CliRunner().invoke(cli, [
        "reliability", "--ratings", str(tmp_path / "r.csv"), "--scheme", str(SCHEME)])
    assert result.exit_code == 1
    assert "line 7: value '9'" in result.output
    assert "Traceback" not in result.output


def test_missing_inputs_are_explained(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["reliability"])
    assert result.exit_code == 1 and "Give either a study folder" in result.output
    write_ratings(tmp_path / "r.csv")
    result = runner.invoke(cli, ["reliability", "--ratings", str(tmp_path / "r.csv")])
    assert result.exit_code == 1 and "--scheme" in result.output
    pd.DataFrame({"clip_id": ["a"], "coder": ["b"]}).to_csv(tmp_path / "bad.csv", index=False)
    result = runner.invoke(cli, ["reliability", "--ratings", str(tmp_path / "bad.csv"),
                                 "--scheme", str(SCHEME)])
    assert result.exit_code == 1 and "missing column(s) item, value" in result.output
    study = init_study(tmp_path / "s")
    result = runner.invoke(cli, ["scores", str(study.root)])
    assert result.exit_code == 1 and "coding-pipeline pull" in result.output


def test_help_shows_examples():
    runner = CliRunner()
    for command in ("reliability", "scores"):
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0
        assert f"coding-pipeline {command} my-study" in result.output


def test_scores_of_a_study(tmp_path):
    study = init_study(tmp_path / "s")
    study.sessions_csv.write_text("dyad_id,timepoint,arm,video,start,end\nD1,T1,A,v.mp4,,\n")
    write_ratings(study.ratings_csv, n_clips=3)
    pd.DataFrame({"clip_id": ["c0", "c1", "c2"], "dyad_id": "D1", "timepoint": "T1", "arm": "A",
                  "start_s": [0, 60, 120], "end_s": [60, 120, 180],
                  "file": ["clips/c0.mp4", "clips/c1.mp4", "clips/c2.mp4"]}
                 ).to_csv(study.clips_csv, index=False)
    result = CliRunner().invoke(cli, ["scores", str(study.root)])
    assert result.exit_code == 0, result.output
    assert "dyad_scores.csv" in result.output
    long = pd.read_csv(study.scores_dir / "dyad_scores.csv")
    sensitivity = long[long["composite"] == "sensitivity"].iloc[0]
    assert sensitivity["n_clips"] == 3 and 1 <= sensitivity["score"] <= 5


def test_conflicting_duplicates_are_warned_on_stderr(tmp_path):
    write_ratings(tmp_path / "r.csv")
    table = pd.read_csv(tmp_path / "r.csv")
    conflicting = table.head(7).assign(value=lambda t: np.where(t["value"] == 5, 1, 5))
    identical = table.iloc[[10]]
    pd.concat([table, conflicting, identical]).to_csv(tmp_path / "r.csv", index=False)
    result = CliRunner().invoke(cli, [
        "reliability", "--ratings", str(tmp_path / "r.csv"), "--scheme", str(SCHEME),
        "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Warning: 7 conflicting duplicate rating(s)")
    assert lines[1].strip().startswith(f"{tmp_path / 'r.csv'}: clip c0, coder a@lab.org, item "
                                       "acknowledging")
    assert f"lines 2, {len(table) + 2}" in lines[1]
    assert len(lines) == 1 + 5 + 1 and lines[-1].strip() == "... and 2 more."
    assert "acknowledging" in result.stdout and "Warning" not in result.stdout


def test_empty_or_header_only_ratings_are_a_clear_error(tmp_path):
    runner = CliRunner()
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("clip_id,coder,item,value\n")
    for name, message in (("empty.csv", "is empty"), ("header.csv", "no ratings in")):
        path = tmp_path / name
        result = runner.invoke(cli, ["reliability", "--ratings", str(path), "--scheme",
                                     str(SCHEME)])
        assert result.exit_code == 1, result.output
        assert message in result.output and str(path) in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    study = init_study(tmp_path / "s")
    study.ratings_csv.write_text("clip_id,coder,item,value,status\nc1,a,warmth,,not rated\n")
    for command in ("reliability", "scores"):
        result = runner.invoke(cli, [command, str(study.root)])
        assert result.exit_code == 1 and "no ratings in" in result.output, result.output


def test_scores_warns_about_conflicting_duplicates(tmp_path):
    study = init_study(tmp_path / "s")
    study.sessions_csv.write_text("dyad_id,timepoint,arm,video,start,end\nD1,T1,A,v.mp4,,\n")
    write_ratings(study.ratings_csv, n_clips=2)
    table = pd.read_csv(study.ratings_csv)
    changed = table.head(1).assign(value=lambda t: np.where(t["value"] == 5, 1, 5))
    pd.concat([table, changed]).to_csv(study.ratings_csv, index=False)
    pd.DataFrame({"clip_id": ["c0", "c1"], "dyad_id": "D1", "timepoint": "T1", "arm": "A",
                  "file": ["clips/c0.mp4", "clips/c1.mp4"]}).to_csv(study.clips_csv, index=False)
    result = CliRunner().invoke(cli, ["scores", str(study.root)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Warning: 1 conflicting duplicate rating(s)")
    assert "clip c0, coder a@lab.org, item acknowledging" in result.stderr
    assert "dyad_scores_by_dyad.sav" in result.stdout
