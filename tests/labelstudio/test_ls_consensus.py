"""Consensus on disagreements, against the session's real Label Studio: two coders disagree on
some clips, a consensus batch takes exactly those, the consensus coder sees both ratings and
nothing identifying, and the agreed ratings change scores but not reliability."""

from __future__ import annotations

import json
import re
import secrets
from contextlib import closing

import pandas as pd
import pytest
from click.testing import CliRunner
from label_studio_sdk import LabelStudio
from test_ls_browser import CHROMIUM, CHROMIUM_ARGS, log_in

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.coders import coder_session, invite_link
from coding_pipeline.labelstudio.projects import export_project, read_projects
from coding_pipeline.labelstudio.pull import pull_study
from coding_pipeline.labelstudio.push import push_study
from coding_pipeline.labelstudio.simulate import annotation_result
from coding_pipeline.reliability import reliability_study
from coding_pipeline.scheme import load_scheme
from coding_pipeline.scores import score_study
from coding_pipeline.study import load_study, read_clips, write_text_atomic

pytestmark = pytest.mark.labelstudio


def sign_up(connection, url: str, n: int) -> dict[str, str]:
    """n new coder accounts made through the invite link: email -> password."""
    tag = secrets.token_hex(3)
    accounts = {f"cons-{chr(97 + i)}-{tag}@example.org": "Pw-" + secrets.token_urlsafe(12)
                for i in range(n)}
    for email, password in accounts.items():
        coder_session(url, email, password, invite=invite_link(connection)).close()
    return accounts


def rate(study, url: str, email: str, password: str, batch: str,
         values: dict[str, dict[str, int]]) -> dict[str, int]:
    """Submit, as the coder, the given ratings in their project of `batch`: clip -> annotation."""
    projects = read_projects(study)
    row = projects[(projects["coder"] == email) & (projects["batch"] == batch)].iloc[0]
    made = {}
    with closing(coder_session(url, email, password)) as session:
        for task in export_project(connect(study), int(row["project_id"])):
            clip_id = task["data"]["clip_id"]
            if clip_id in values:
                response = session.post(f"/api/tasks/{task['id']}/annotations/",
                                        json={"result": annotation_result(values[clip_id])})
                assert response.status_code == 201, response.text
                made[clip_id] = response.json()["id"]
    return made


def test_consensus_on_disagreements_end_to_end(make_ls_study, label_studio, tmp_path):
    study = make_ls_study(tmp_path / "study", n_clips=8)
    write_text_atomic(study.toml_path, study.toml_path.read_text().replace(
        "bootstrap = 1000", "bootstrap = 50"))
    study = load_study(study.root)
    scheme = load_scheme(study.scheme_path)
    items = [item.id for item in scheme.items]
    connection = connect(study)
    accounts = sign_up(connection, label_studio.url, 3)
    ana, ben, master = accounts
    clips = list(read_clips(study)["clip_id"])

    training = batches.create_training_batch(study, master, [ana], n_clips=4, seed=1)
    coding = batches.create_batch(study, [ana, ben], reliability_share=1.0, seed=2)
    push_study(study)

    # the trainee and the master disagree wildly on training clips: never a consensus clip
    train_clips = set(training.assignments["clip_id"])
    rate(study, label_studio.url, ana, accounts[ana], training.name,
         {c: dict.fromkeys(items, 1) for c in train_clips})
    rate(study, label_studio.url, master, accounts[master], training.name,
         {c: dict.fromkeys(items, 5) for c in train_clips})
    # study clips: equal, except clip 0 (2 apart on one item), clip 1 (1 apart: not over the
    # threshold) and clip 2 (3 apart on two items)
    ana_values = {c: dict.fromkeys(items, 3) for c in clips}
    ben_values = {c: dict.fromkeys(items, 3) for c in clips}
    ben_values[clips[0]][items[0]] = 5
    ben_values[clips[1]][items[1]] = 4
    ana_values[clips[2]][items[2]] = 1
    ben_values[clips[2]][items[2]] = 4
    ana_values[clips[2]][items[3]] = 5
    ben_values[clips[2]][items[3]] = 2
    ana_made = rate(study, label_studio.url, ana, accounts[ana], coding.name, ana_values)
    rate(study, label_studio.url, ben, accounts[ben], coding.name, ben_values)
    pull_study(study)
    reliability_before = reliability_study(study)

    runner = CliRunner()
    created = runner.invoke(cli, ["consensus", "create", str(study.root), "--threshold", "1",
                                  "--coders", master])
    assert created.exit_code == 0, created.output
    assert "2 clip(s) whose coders differ by more than 1" in created.output
    table = pd.read_csv(study.root / "batches/consensus-01.csv", dtype=str)
    assert set(table["clip_id"]) == {clips[0], clips[2]}
    assert set(table["role"]) == {"consensus"} and set(table["coder"]) == {master}
    meta = json.loads((study.root / "batches/consensus-01.json").read_text())
    assert meta["kind"] == "consensus" and meta["threshold"] == 1
    over = {d["clip_id"]: {(o["item"], o["spread"]) for o in d["over"]}
            for d in meta["disagreements"]}
    assert over == {clips[0]: {(items[0], 2)}, clips[2]: {(items[2], 3), (items[3], 3)}}
    shown = runner.invoke(cli, ["batch", "show", str(study.root), "consensus-01"])
    assert "how far apart: 2 points x 1, 3 points x 2" in shown.output

    report = push_study(study)
    assert report.projects_created == 1 and report.tasks_imported == 2
    record = read_projects(study).query("batch == 'consensus-01'").iloc[0]
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    project = client.projects.get(id=int(record["project_id"]))
    assert f"$shown_{items[0]}" in project.label_config
    tasks = {t.data["clip_id"]: t.data for t in
             client.tasks.list(project=int(record["project_id"]), fields="all")}
    assert set(tasks) == {clips[0], clips[2]}
    first = tasks[clips[0]]
    roles = coding.assignments.set_index(["clip_id", "coder"])["role"]
    ana_first = roles[(clips[0], ana)] == "primary"  # Coder 1 is the clip's primary coder
    both = "3 / 5" if ana_first else "5 / 3"
    assert first[f"shown_{items[0]}"] == f"Coder 1 / Coder 2: {both}   << DISAGREE (2 apart)"
    assert first[f"shown_{items[1]}"] == "Coder 1 / Coder 2: 3 / 3"
    assert "2 apart" in first["shown_summary"]
    assert set(first) == {"video", "clip_id", "fps", "shown_summary",
                          *(f"shown_{i}" for i in items)}
    held = json.dumps(list(tasks.values())) + project.title + (project.description or "")
    clip_key = read_clips(study)
    forbidden = {*accounts} - {master}
    forbidden |= set(clip_key["dyad_id"]) | set(clip_key["arm"]) | set(clip_key["timepoint"])
    forbidden |= {s.rsplit("/", 1)[-1] for s in clip_key["source"]}
    assert not [word for word in forbidden if word.lower() in held.lower()]
    assert "cons-a-" not in json.dumps(list(tasks.values()))  # no coder's name in the tasks

    # the master agrees one rating for clip 0; clip 2 stays open
    agreed = dict.fromkeys(items, 4)
    rate(study, label_studio.url, master, accounts[master], "consensus-01", {clips[0]: agreed})
    pull_study(study)
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    mine = ratings[ratings["batch"] == "consensus-01"]
    assert set(mine["role"]) == {"consensus"} and set(mine["clip_id"]) == {clips[0]}
    status = runner.invoke(cli, ["status", str(study.root)])
    assert "consensus consensus-01: 2 clip(s), 1 agreed, 1 open" in status.output

    after = reliability_study(study)
    assert after["items"] == reliability_before["items"]
    assert after["composites"] == reliability_before["composites"]

    def clip_scores(policy: str) -> pd.DataFrame:
        text = study.toml_path.read_text()
        text = text.replace('clip_policy = "primary"', f'clip_policy = "{policy}"').replace(
            'clip_policy = "consensus"', f'clip_policy = "{policy}"')
        write_text_atomic(study.toml_path, text)
        score_study(load_study(study.root))
        return pd.read_csv(study.scores_dir / "clip_scores.csv", dtype={"clip_id": str})

    primary = clip_scores("primary").set_index(["clip_id", "composite"])
    agreed_scores = clip_scores("consensus").set_index(["clip_id", "composite"])
    for composite in scheme.composites:
        key = (clips[0], composite.id)
        expected = sum(scheme.item(i).keyed(4) for i in composite.items) / len(composite.items)
        assert agreed_scores.loc[key, "source"] == "consensus"
        assert agreed_scores.loc[key, "value"] == pytest.approx(expected)
        assert primary.loc[key, "value"] != pytest.approx(expected)
        assert agreed_scores.loc[(clips[2], composite.id), "source"] == "mean"

    again = runner.invoke(cli, ["consensus", "create", str(study.root), "--coders", master])
    assert again.exit_code == 0 and "nothing added" in again.output
    assert sorted(p.name for p in (study.root / "batches").glob("consensus-*")) == [
        "consensus-01.csv", "consensus-01.json"]

    # ana re-codes clip 0 after it went to consensus: reported, and not sent again
    with closing(coder_session(label_studio.url, ana, accounts[ana])) as session:
        changed = dict(ana_values[clips[0]], **{items[0]: 4})
        response = session.patch(f"/api/annotations/{ana_made[clips[0]]}/",
                                 json={"result": annotation_result(changed)})
        assert response.status_code == 200, response.text
    pull_study(study)
    third = runner.invoke(cli, ["consensus", "create", str(study.root), "--coders", master])
    assert "Re-coded after consensus: 1 clip(s)" in third.output
    number = 1 if ana_first else 2
    assert f"clip {clips[0]}, {ana} (Coder {number}), {items[0]}: 3 -> 4" in third.output
    assert "nothing added" in third.output
    listed = runner.invoke(cli, ["batch", "show", str(study.root)])
    assert "Re-coded after consensus" in listed.output
    from coding_pipeline.report.html import report_study

    page = report_study(load_study(study.root)).read_text()
    assert "2 clip(s) went to consensus" in page and "Re-coded after consensus" in page


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_consensus_coder_sees_both_ratings_in_the_browser(make_ls_study, label_studio,
                                                             tmp_path):
    from playwright.sync_api import sync_playwright

    study = make_ls_study(tmp_path / "seen", n_clips=2)
    scheme = load_scheme(study.scheme_path)
    items = [item.id for item in scheme.items]
    accounts = sign_up(connect(study), label_studio.url, 3)
    ana, ben, master = accounts
    batches.create_batch(study, [ana, ben], reliability_share=1.0, seed=1)
    assignments = batches.load_assignments(study)
    rows = []
    for a in assignments.itertuples():  # ratings as pulled: ben 2 points above ana on item 0
        for item in items:
            value = 5 if (a.coder == ben and item == items[0]) else 3
            rows.append({"clip_id": a.clip_id, "coder": a.coder, "item": item, "value": value,
                         "role": a.role, "batch": a.batch, "status": "rated"})
    pd.DataFrame(rows).to_csv(study.ratings_csv, index=False)
    result = runner_invoke(["consensus", "create", str(study.root), "--coders", master])
    assert "2 clip(s)" in result
    push_study(study)
    project_id = int(read_projects(study).query("batch == 'consensus-01'").iloc[0]["project_id"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            log_in(page, label_studio.url, master, accounts[master])
            page.goto(f"{label_studio.url}/projects/{project_id}/data")
            page.get_by_text("Label All Tasks").first.click()
            page.wait_for_selector(".lsf-choices", timeout=60_000)
            page.get_by_text("DISAGREE (2 apart)").first.wait_for(timeout=30_000)
            text = page.inner_text("body")
            controls = page.locator(".lsf-choices").count()
            notes = page.locator("textarea").count()
            page.screenshot(path=str(tmp_path / "consensus.png"), full_page=True)
        finally:
            browser.close()
    assert "$shown" not in text
    assert text.count("Coder 1 / Coder 2: 3 / 3") == len(items) - 1
    assert len(re.findall(r"Coder 1 / Coder 2: (3 / 5|5 / 3)\s+<< DISAGREE \(2 apart\)", text)) == 1
    assert "Disagreement on: " in text and page_has_no_names(text, [ana, ben])
    assert controls == len(items) and notes >= 1  # the same controls and a notes box


def runner_invoke(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.output


def page_has_no_names(text: str, coders: list[str]) -> bool:
    """True if no coder of the ratings shown is named (the title names the consensus coder)."""
    return not any(email.split("@")[0] in text for email in coders)


def test_a_recalibration_set_is_pushed_and_scored_as_a_dated_recertification(
        make_ls_study, label_studio, tmp_path):
    study = make_ls_study(tmp_path / "recal", n_clips=6)
    scheme = load_scheme(study.scheme_path)
    items = [item.id for item in scheme.items]
    accounts = sign_up(connect(study), label_studio.url, 2)
    ana, master = accounts
    coding = batches.create_batch(study, [master], reliability_share=0.0, seed=1)
    push_study(study)
    clips = list(coding.assignments["clip_id"])
    truth = {c: {item: 1 + (n + k) % 5 for k, item in enumerate(items)}
             for n, c in enumerate(clips)}
    rate(study, label_studio.url, master, accounts[master], coding.name, truth)
    pull_study(study)

    made = runner_invoke(["batch", "create", str(study.root), "--recalibrate", ana,
                          "--master", master, "--clips", "4", "--seed", "2"])
    assert "recalibration of" in made and "recalibration-01" in made
    plan = next(p for p in batches.load_batches(study) if p.name == "recalibration-01")
    assert set(plan.assignments["role"]) == {"recalibration"} and plan.kind == "training"
    assert set(plan.assignments["coder"]) == {ana}
    pushed = push_study(study)
    assert pushed.projects_created == 1 and pushed.tasks_imported == 4
    picked = set(plan.assignments["clip_id"])
    rate(study, label_studio.url, ana, accounts[ana], "recalibration-01",
         {c: truth[c] for c in picked})
    pull_study(study)
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    assert set(ratings.loc[ratings["coder"] == ana, "role"]) == {"recalibration"}

    result = reliability_study(load_study(study.root))
    (entry,) = [c for c in result["certification"] if c["kind"] == "recertification"]
    assert entry["coder"] == ana and entry["master"] == master and entry["status"] == "pass"
    assert entry["n_clips"] == 4 and entry["within_one_agreement"] == 1.0
    assert entry["date"] == pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d")
    table = pd.read_csv(study.reliability_dir / "certification.csv", dtype=str)
    assert list(table[["kind", "batch"]].iloc[0]) == ["recertification", "recalibration-01"]
    scores = score_study(load_study(study.root))
    per_clip = pd.read_csv(scores["per clip CSV"], dtype=str)
    assert not per_clip["source"].str.contains(ana).any()  # not a study score
