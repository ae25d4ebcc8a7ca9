"""QA findings against the session's real Label Studio: a changed scheme, a missing clip,
training batches, pull problems and status."""

from __future__ import annotations

import secrets
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner
from label_studio_sdk import LabelStudio

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.pull import pull_study
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.labelstudio.simulate import simulate_coders
from coding_pipeline.study import load_study, write_text_atomic

pytestmark = pytest.mark.labelstudio

OLD_ANCHOR = "Warmth and pleasure in the child are evident throughout."


def new_coders(n: int = 2) -> list[str]:
    tag = secrets.token_hex(3)
    return [f"qa-{chr(97 + i)}-{tag}@example.org" for i in range(n)]


def add_clips(study, bank, n: int) -> list[str]:
    """n more real clips in clips.csv (as a new session segmented after the first batch)."""
    rows = []
    for index in range(n):
        clip_id = secrets.token_hex(6)
        shutil.copyfile(bank[index % len(bank)], study.clips_dir / f"{clip_id}.mp4")
        rows.append(f"{clip_id},FAMXQ404,TPBASELINE,ARMTREATED,videos/FAMXQ404_SRCNAME.mp4,"
                    f"{2.0 * index},{2.0 * index + 2},clips/{clip_id}.mp4,25,50,ok")
    text = study.clips_csv.read_text(encoding="utf-8")
    write_text_atomic(study.clips_csv, text + "\n".join(rows) + "\n")
    return [row.split(",")[0] for row in rows]


def test_a_new_scheme_version_is_pushed_as_its_refusal_advises(
        ls_study, label_studio, clip_bank):
    coders = new_coders()
    batches.create_batch(ls_study, coders, reliability_share=0.0, seed=2, name="batch-01")
    push_study(ls_study)
    first = read_projects(ls_study)
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    old_config = client.projects.get(id=int(first.iloc[0]["project_id"])).label_config
    version_one = ls_study.scheme_path.read_text(encoding="utf-8")

    # an anchor edited without a new version: refused, with advice that names the fix
    edited = version_one.replace(OLD_ANCHOR, "Warmth is evident throughout.")
    ls_study.scheme_path.write_text(edited, encoding="utf-8")
    with pytest.raises(PipelineError, match="Push refused: .*set `version: 2`") as refusal:
        push_study(ls_study)
    assert "schemes/" in str(refusal.value)
    assert read_projects(ls_study).equals(first)

    # following the advice: version 2, a new session's clips in a new batch, push
    ls_study.scheme_path.write_text(edited.replace("version: 1", "version: 2", 1),
                                    encoding="utf-8")
    add_clips(ls_study, clip_bank, 4)
    batches.create_batch(ls_study, coders, reliability_share=0.0, seed=3, name="v2batch")
    lost = client.tasks.list(project=int(first.iloc[0]["project_id"]))
    client.tasks.delete(id=next(iter(lost)).id)  # batch-01 now lacks one of its clips
    result = CliRunner().invoke(cli, ["push", str(ls_study.root)])
    assert result.exit_code == 0, result.output
    assert "lacks 1 of its clips" in result.output and "version 1" in result.output
    projects = read_projects(ls_study)
    assert len(projects) == 4
    versions = dict(zip(projects["batch"] + "/" + projects["coder"], projects["scheme_version"],
                        strict=True))
    assert {v for k, v in versions.items() if k.startswith("batch-01/")} == {"1"}
    assert {v for k, v in versions.items() if k.startswith("v2batch/")} == {"2"}
    # the old projects keep their config; the new ones have the new anchor
    for record in projects.itertuples():
        config = client.projects.get(id=int(record.project_id)).label_config
        if record.batch == "batch-01":
            assert config == old_config
        else:
            assert "Warmth is evident throughout." in config and OLD_ANCHOR not in config
    # the old version's file was kept, so restoring it finishes batch-01
    kept = sorted((ls_study.root / "schemes").glob("*-v1-*.yaml"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == version_one

    simulate_coders(ls_study, coders, seed=1)
    pull_study(ls_study)
    ratings = pd.read_csv(ls_study.ratings_csv, dtype=str, keep_default_na=False)
    by_batch = ratings.groupby("batch")["scheme_version"].agg(set).to_dict()
    assert by_batch == {"batch-01": {"1"}, "v2batch": {"2"}}

    ls_study.scheme_path.write_text(kept[0].read_text(encoding="utf-8"), encoding="utf-8")
    restored = push_study(ls_study)
    assert restored.tasks_imported == 1 and restored.projects_created == 0


def test_a_missing_clip_is_named_once_with_the_fix(ls_study):
    batches.create_batch(ls_study, new_coders(), reliability_share=1.0, seed=2)
    clip = next(ls_study.clips_dir.glob("*.mp4"))
    clip.unlink()
    result = CliRunner().invoke(cli, ["push", str(ls_study.root)])
    assert result.exit_code == 1
    assert result.output.count(f"clip {clip.stem}: file clips/{clip.name} is missing") == 1
    assert result.output.count("is missing") == 1, result.output
    assert "remakes each missing clip with the same id" in result.output
    assert f"coding-pipeline segment {ls_study.root}" in result.output


def test_a_training_batch_pushes_the_master_last_and_says_why_once(ls_study, label_studio):
    master, *trainees = new_coders(3)
    batches.create_training_batch(ls_study, master, trainees, n_clips=3, seed=1)
    runner = CliRunner()
    result = runner.invoke(cli, ["push", str(ls_study.root)])
    assert result.exit_code == 0, result.output
    projects = read_projects(ls_study)
    ids = dict(zip(projects["coder"], projects["project_id"].astype(int), strict=True))
    assert ids[master] == max(ids.values())
    pushed = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert pushed[-1].endswith(f"- {master}: 3 imported, 0 already there")
    assert result.output.count("cannot hide projects") == 1
    assert "master to rate after the trainees" in result.output
    shown = runner.invoke(cli, ["batch", "show", str(load_study(ls_study.root).root)])
    assert shown.output.count("cannot hide projects") == 1


def test_pull_summarises_unreadable_values_and_lists_them_all_in_a_file(
        ls_study, label_studio, simulated_session):
    coders = new_coders(1)
    batches.create_batch(ls_study, coders, reliability_share=0.0, seed=2)
    push_study(ls_study)
    simulate_coders(ls_study, coders, seed=1)
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    project_id = int(read_projects(ls_study).iloc[0]["project_id"])
    bad = 0
    coder = simulated_session(ls_study, label_studio.url, coders[0])  # the coder's own edits
    for task in client.tasks.list(project=project_id, fields="all"):
        annotation = task.annotations[0]
        result = [dict(r) for r in annotation["result"]]
        for r in result:
            if r["type"] == "choices":
                r["value"] = {"choices": ["n/a"]}
                bad += 1
        result[0]["value"] = {"choices": ["9"]}
        bad -= 1
        assert coder.patch(f"/api/annotations/{annotation['id']}/",
                           json={"result": result}).status_code == 200
    coder.close()

    output = CliRunner().invoke(cli, ["pull", str(ls_study.root)]).output
    lines = [line for line in output.splitlines() if "problem" in line]
    assert len(lines) == 3, output  # two kinds, and where the full list is
    unreadable = next(line for line in lines if "unreadable value" in line)
    assert f"{bad} x unreadable value" in unreadable and unreadable.count("value 'n/a'") == 5
    assert f"{coders[0]} item " in unreadable
    outside = next(line for line in lines if "outside the scale" in line)
    assert "6 x value outside the scale" in outside and "value '9'" in outside
    listed = sorted(ls_study.exports_dir.glob("*_problems.txt"))
    assert len(listed) == 1 and str(listed[0]) in lines[-1]
    assert len(listed[0].read_text(encoding="utf-8").splitlines()) == bad + 6

    again = CliRunner().invoke(cli, ["pull", str(ls_study.root)]).output
    assert str(listed[0]) in again  # the same problems: the same file, not a new one
    assert sorted(ls_study.exports_dir.glob("*_problems.txt")) == listed


def test_status_counts_from_the_servers_counters_without_exports(
        ls_study, label_studio, monkeypatch):
    coders = new_coders()
    batches.create_batch(ls_study, coders, reliability_share=0.0, seed=4)
    push_study(ls_study)
    simulate_coders(ls_study, coders, seed=1)
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    projects = read_projects(ls_study)
    skipper = projects.iloc[0]
    tasks = list(client.tasks.list(project=int(skipper["project_id"]), fields="all"))
    client.annotations.delete(id=tasks[0].annotations[0]["id"])  # only skipped
    client.annotations.create(id=tasks[0].id, result=[], was_cancelled=True)
    client.annotations.create(id=tasks[1].id, result=[], was_cancelled=True)  # rated and skipped
    client.annotations.delete(id=tasks[2].annotations[0]["id"])  # not done
    other = projects.iloc[1]
    starred = next(iter(client.tasks.list(project=int(other["project_id"]), fields="all")))
    client.annotations.update(id=starred.annotations[0]["id"], ground_truth=True)
    assigned = {c: len(batches.load_assignments(ls_study).query("coder == @c")) for c in coders}

    def no_exports(*_args, **_kwargs):
        raise AssertionError("status downloaded an export")
    monkeypatch.setattr("coding_pipeline.labelstudio.projects.export_project_raw", no_exports)
    result = CliRunner().invoke(cli, ["status", str(ls_study.root)])
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line.split() for line in result.output.splitlines()[1:]}
    first, second = skipper["coder"], next(c for c in coders if c != skipper["coder"])
    n = assigned[first]
    assert rows[first][2:6] == [str(n), str(n - 2), "1", "1"]
    assert rows[second][2:6] == [str(assigned[second]), str(assigned[second]), "0", "0"]
