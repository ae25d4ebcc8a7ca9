"""Interviews (reflective functioning) through ratings and reliability: which unit is which,
interview rows checked with the interview scheme and ignored by clip consumers, not codable
is missing, and the interview statistics are exactly the clip path's on the same ratings."""

import json

import krippendorff
import numpy as np
import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.ratings import (
    read_interview_ratings,
    read_ratings_by_kind,
    read_study_ratings,
    unit_kind,
)
from coding_pipeline.reliability import (
    InterviewCertificationCriteria,
    compute_reliability,
    interview_reliability_study,
    reliability_study,
)
from coding_pipeline.scheme import load_scheme
from coding_pipeline.scores import score_study
from coding_pipeline.stats.icc import shrout_fleiss_forms
from coding_pipeline.study import init_study, load_study, resolve_scheme

PDI = load_scheme(resolve_scheme("pdi-rf.yaml"))


def clip_study(tmp_path, n_clips=6):
    """A study with clips.csv and two coders' clip ratings of every clip."""
    study = init_study(tmp_path / "study")
    scheme = load_scheme(study.scheme_path)
    rng = np.random.default_rng(3)
    clips = [{"clip_id": f"k{c:02d}", "dyad_id": f"D{c % 3 + 1}", "timepoint": "baseline",
              "arm": "A", "source": "x.mp4", "start_s": 0, "end_s": 60,
              "file": f"clips/k{c:02d}.mp4", "fps": 25, "frames": 1500, "qc": "ok"}
             for c in range(n_clips)]
    pd.DataFrame(clips).to_csv(study.clips_csv, index=False)
    rows = [{"clip_id": clip["clip_id"], "coder": coder, "item": item.id,
             "value": str(int(rng.integers(1, 6))), "role": role, "status": "rated",
             "batch": "b1", "created_at": "2026-03-01T09:00:00Z",
             "updated_at": "2026-03-01T09:00:00Z"}
            for clip in clips for coder, role in (("a@lab.org", "primary"),
                                                  ("b@lab.org", "reliability"))
            for item in scheme.items]
    pd.DataFrame(rows).to_csv(study.ratings_csv, index=False)
    return load_study(study.root)


def test_unit_kind_names_clips_and_interviews(tmp_path, add_interview_ratings):
    study = clip_study(tmp_path)
    add_interview_ratings(study, n_interviews=4)
    kinds = unit_kind(study)
    assert kinds["k00"] == "clip" and kinds["t000000000001"] == "interview"
    assert sorted(set(kinds.values())) == ["clip", "interview"] and len(kinds) == 6 + 4


def test_clip_consumers_ignore_interview_rows(tmp_path, add_interview_ratings):
    study = clip_study(tmp_path)
    before = read_study_ratings(study).table
    add_interview_ratings(study, n_interviews=4)
    after = read_study_ratings(study)
    pd.testing.assert_frame_equal(after.table, before)  # same rows, same file lines
    assert after.scheme.kind == "video"
    interviews = read_interview_ratings(study)
    assert set(interviews.table["clip_id"]) == {f"t{i:012x}" for i in range(1, 5)}
    assert interviews.scheme.name == "pdi-rf"
    assert interviews.table["line"].min() > before["line"].max()  # lines of the file


def test_not_codable_is_missing_and_minus_one_is_a_point(tmp_path, add_interview_ratings):
    study = clip_study(tmp_path)
    rows = add_interview_ratings(study, n_interviews=6, not_codable=0.3)
    table = read_interview_ratings(study).table
    skipped = [r for r in rows if r["status"] == "not_codable"]
    assert skipped and all(r["value"] == "" for r in skipped)
    assert len(table) == len(rows) - len(skipped)
    assert table["value"].notna().all()
    assert set(table["value"]) <= set(range(-1, 10))
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    line = int(ratings.index[ratings["clip_id"].str.startswith("t")][0])
    ratings.loc[line, ["value", "status"]] = ["-1", "rated"]
    ratings.to_csv(study.ratings_csv, index=False)
    assert -1 in set(read_interview_ratings(study).table["value"])
    ratings.loc[line, "value"] = "10"
    ratings.to_csv(study.ratings_csv, index=False)
    with pytest.raises(PipelineError, match=rf"\(interviews\) line {line + 2}: value '10' .*"
                                            r"scale -1-9"):
        read_interview_ratings(study)
    ratings.loc[line, "item"] = "warmth"  # a video item on an interview
    with pytest.raises(PipelineError, match="item 'warmth' is not in the scheme 'pdi-rf'"):
        ratings.to_csv(study.ratings_csv, index=False)
        read_interview_ratings(study)


def test_a_study_without_interviews_has_none(tmp_path):
    study = clip_study(tmp_path)
    assert read_interview_ratings(study) is None
    assert interview_reliability_study(study) is None
    clips, interviews = read_ratings_by_kind(study)
    assert interviews is None and len(clips.table)


def test_interview_reliability_is_the_clip_path_on_the_same_ratings(tmp_path,
                                                                     add_interview_ratings):
    study = clip_study(tmp_path)
    rows = add_interview_ratings(study, n_interviews=20, second_coder_shift=0.7)
    result = interview_reliability_study(study)
    same = compute_reliability(pd.DataFrame(rows), PDI, bootstrap=study.config.bootstrap,
                               seed=study.config.seed)
    for part in ("items", "composites", "pairs", "bias", "n_clips", "n_coders", "n_ratings"):
        assert result[part] == same[part], part
    assert result["unit"] == "interview" and "one interview per dyad" in result["d_study_reason"]
    assert result["d_study"] == {}
    assert "double-coded interviews" in result["methods_text"]
    assert " clips" not in result["methods_text"]
    # against independent computations on the interviews x coders matrix
    frame = pd.DataFrame(rows)
    overall = frame[frame["item"] == "overall"].assign(value=lambda t: t["value"].astype(float))
    matrix = overall.pivot(index="clip_id", columns="coder", values="value").to_numpy()
    entry = result["items"]["overall"]
    reference = krippendorff.alpha(reliability_data=matrix.T, level_of_measurement="ordinal",
                                   value_domain=list(range(-1, 10)))
    assert entry["alpha"]["value"] == pytest.approx(reference, abs=1e-6)
    assert entry["icc"]["value"] == pytest.approx(shrout_fleiss_forms(matrix)["ICC(2,1)"],
                                                  abs=1e-4)
    assert entry["within_one_agreement"] == pytest.approx(
        np.mean(np.abs(matrix[:, 0] - matrix[:, 1]) <= 1), abs=1e-6)
    assert entry["gwet_ac2"]["value"] is not None and entry["gwet_ac2"]["weights"] == "quadratic"
    folder = study.reliability_dir / "interviews"
    saved = json.loads((folder / "reliability.json").read_text())
    assert saved["items"] == result["items"]
    for name in ("reliability.csv", "pairs.csv", "bias.csv", "d_study.csv",
                 "certification.csv", "recalibration.csv", "drift.csv"):
        assert (folder / name).is_file(), name
    flat = pd.read_csv(folder / "reliability.csv")
    assert len(flat) == len(PDI.items) + len(PDI.composites)


def training_rows(good_noise=0.0, n=12, seed=5):
    """A master and two trainees rating `n` training interviews."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n):
        truth = int(rng.integers(0, 9))
        for item in PDI.items:
            master = int(np.clip(truth + rng.integers(-1, 2), -1, 9))
            good = int(np.clip(master + (rng.random() < good_noise), -1, 9))
            for coder, role, value in (("m@lab.org", "master", master),
                                       ("good@lab.org", "training", good),
                                       ("new@lab.org", "training", int(rng.integers(-1, 10)))):
                rows.append({"clip_id": f"t{index + 1:012x}", "coder": coder, "item": item.id,
                             "value": str(value), "role": role, "batch": "rf-training"})
    return pd.DataFrame(rows)


def test_interview_certification_uses_the_overall_icc_and_demand_within_one():
    criteria = InterviewCertificationCriteria(icc_overall_min=0.8, demand_within_one_min=0.8,
                                              min_clips=10)
    result = compute_reliability(training_rows(good_noise=0.2), PDI, bootstrap=0,
                                 criteria=criteria)
    status = {c["coder"]: c for c in result["certification"]}
    good, new = status["good@lab.org"], status["new@lab.org"]
    assert good["status"] == "pass", good["reasons"]
    assert good["criteria"] == {"icc_overall_min": 0.8, "demand_within_one_min": 0.8,
                                "min_interviews": 10}
    assert good["items"]["overall"]["icc"] > 0.8
    assert "icc" not in good["items"]["clicked"]
    assert new["status"] == "fail"
    assert any(r.startswith("overall ICC(A,1)") for r in new["reasons"])
    assert any(r.startswith("demand questions within one point") for r in new["reasons"])
    strict = compute_reliability(training_rows(good_noise=0.2), PDI, bootstrap=0,
                                 criteria=InterviewCertificationCriteria(min_clips=13))
    assert "12 shared interviews (at least 13 needed)" in {
        c["coder"]: c for c in strict["certification"]}["good@lab.org"]["reasons"]


def test_demand_within_one_pools_the_demand_question_ratings():
    criteria = InterviewCertificationCriteria()
    items = {"overall": {"within_one_agreement": 0.0, "n_clips": 10},
             "clicked": {"within_one_agreement": 1.0, "n_clips": 10},
             "anger": {"within_one_agreement": 0.5, "n_clips": 30},
             "guilt": {"within_one_agreement": None, "n_clips": 0}}
    assert criteria.demand_within_one(items) == pytest.approx((10 + 15) / 40)
    assert criteria.items_passing(items) == 1


def test_certification_criteria_come_from_study_toml(tmp_path):
    study = init_study(tmp_path / "s")
    criteria = InterviewCertificationCriteria.from_config(study.config)
    assert criteria == InterviewCertificationCriteria()
    text = study.toml_path.read_text(encoding="utf-8")
    study.toml_path.write_text(text.replace("icc_overall_min = 0.80", "icc_overall_min = 0.75")
                               .replace("min_interviews = 10", "min_interviews = 4"),
                               encoding="utf-8")
    criteria = InterviewCertificationCriteria.from_config(load_study(study.root).config)
    assert (criteria.icc_overall_min, criteria.min_clips) == (0.75, 4)
    study.toml_path.write_text(text.replace("min_interviews = 10", "min_interviews = 0"),
                               encoding="utf-8")
    with pytest.raises(PipelineError, match=r"\[certification.interviews\] min_interviews = 0 "
                                            "is out of range"):
        load_study(study.root)


def test_reliability_command_prints_the_interview_table_after_the_clips(
        tmp_path, add_interview_ratings):
    study = clip_study(tmp_path)
    add_interview_ratings(study, n_interviews=10)
    out = CliRunner().invoke(cli, ["reliability", str(study.root), "--bootstrap", "20"])
    assert out.exit_code == 0, out.output
    clips_at = out.output.index("Written: " + str(study.reliability_dir / "reliability.json"))
    title_at = out.output.index("Interviews (reflective functioning)")
    assert clips_at < title_at
    tail = out.output[title_at:]
    assert "rf_overall (composite)" in tail and "overall" in tail and "units" in tail
    assert (study.reliability_dir / "interviews" / "reliability.json").is_file()


def test_reliability_of_a_study_with_interview_ratings_only(tmp_path, add_interview_ratings):
    study = init_study(tmp_path / "study")
    add_interview_ratings(study, n_interviews=8)
    out = CliRunner().invoke(cli, ["reliability", str(study.root), "--bootstrap", "0"])
    assert out.exit_code == 0, out.output
    assert "Interviews (reflective functioning)" in out.output
    assert not (study.reliability_dir / "reliability.json").exists()
    assert (study.reliability_dir / "interviews" / "reliability.json").is_file()


def test_reliability_study_keeps_returning_the_clip_result(tmp_path, add_interview_ratings):
    study = clip_study(tmp_path)
    add_interview_ratings(study, n_interviews=6)
    result = reliability_study(study)
    assert "unit" not in result
    assert set(result["items"]) == set(load_scheme(study.scheme_path).item_ids)
    assert (study.reliability_dir / "interviews" / "reliability.json").is_file()


# ---------------------------------------------------------------- scores


def scored_study(tmp_path, add_interview_ratings, policy="primary"):
    study = clip_study(tmp_path)
    study.sessions_csv.write_text("dyad_id,timepoint,arm,video,start,end\n"
                                  "D1,baseline,A,a.mp4,,\nD2,baseline,B,b.mp4,,\n"
                                  "D3,baseline,A,c.mp4,,\n", encoding="utf-8")
    rows = add_interview_ratings(study, n_interviews=8, double_share=0.5, not_codable=0.1)
    text = study.toml_path.read_text(encoding="utf-8")
    study.toml_path.write_text(text.replace('clip_policy = "primary"',
                                            f'clip_policy = "{policy}"'), encoding="utf-8")
    return load_study(study.root), pd.DataFrame(rows)


@pytest.mark.parametrize("policy", ["primary", "mean"])
def test_interview_scores_per_dyad_and_timepoint(tmp_path, add_interview_ratings, policy):
    study, rows = scored_study(tmp_path, add_interview_ratings, policy)
    written = score_study(study)
    scores = pd.read_csv(written["interviews CSV"])
    assert list(scores.columns[:5]) == ["dyad_id", "timepoint", "arm", "interview",
                                        "transcript_id"]
    assert len(scores) == 8 and not scores.duplicated(["dyad_id", "timepoint"]).any()
    rated = rows[rows["status"] == "rated"].assign(value=lambda t: t["value"].astype(float))
    one = scores.iloc[0]
    mine = rated[rated["clip_id"] == one["transcript_id"]]
    coders = mine[mine["item"] == "overall"].set_index("coder")["value"]
    expected = coders["a@lab.org"] if policy == "primary" else coders.mean()
    assert one["rf_overall"] == pytest.approx(expected)
    demand = [i.id for i in PDI.items if i.id != "overall"]
    by_coder = mine[mine["item"].isin(demand)].groupby("coder")["value"].mean()
    expected = by_coder["a@lab.org"] if policy == "primary" else by_coder.mean()
    assert one["rf_demand_mean"] == pytest.approx(expected)  # not codable left out
    assert one["n_coders"] == 2


def test_rf_columns_in_the_wide_tables_and_spss(tmp_path, add_interview_ratings):
    study, _ = scored_study(tmp_path, add_interview_ratings)
    written = score_study(study)
    wide = pd.read_csv(written["wide CSV"])
    assert {"rf_overall", "rf_demand_mean"} <= set(wide.columns)
    scores = pd.read_csv(written["interviews CSV"]).set_index(["dyad_id", "timepoint"])
    row = wide.set_index(["dyad_id", "timepoint"]).loc[("D1", "baseline")]
    assert row["rf_overall"] == pytest.approx(scores.loc[("D1", "baseline"), "rf_overall"])
    assert ("D1", "post") in wide.set_index(["dyad_id", "timepoint"]).index  # interview only
    by_dyad = pd.read_csv(written["by dyad CSV"]).set_index("dyad_id")
    assert by_dyad.loc["D1", "rf_overall_post"] == pytest.approx(
        scores.loc[("D1", "post"), "rf_overall"])
    data, meta = pyreadstat.read_sav(str(written["wide SPSS"]))
    assert meta.column_names_to_labels["rf_overall"] == (
        "Overall reflective functioning (interview)")
    assert meta.variable_measure["rf_overall"] == "scale"
    data, meta = pyreadstat.read_sav(str(written["by dyad SPSS"]))
    assert meta.column_names_to_labels["rf_demand_mean_post"] == (
        "Mean RF of the demand questions (interview) at post")


def test_scores_of_a_study_with_interview_ratings_only(tmp_path, add_interview_ratings):
    study = init_study(tmp_path / "study")
    add_interview_ratings(study, n_interviews=4)
    written = score_study(study)
    assert list(written) == ["interviews CSV"]
    assert len(pd.read_csv(written["interviews CSV"])) == 4


def test_clip_files_are_unchanged_by_interview_ratings_except_the_added_rf_columns(
        tmp_path, add_interview_ratings):
    study = clip_study(tmp_path)
    reliability_study(study)
    score_study(study)
    files = sorted(p for p in study.reliability_dir.rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    scores_before = {name: pd.read_csv(study.scores_dir / name, dtype=str,
                                       keep_default_na=False)
                     for name in ("clip_scores.csv", "dyad_scores.csv", "dyad_scores_wide.csv")}
    before_scores = {name: (study.scores_dir / name).read_bytes()
                     for name in ("clip_scores.csv", "dyad_scores.csv")}
    add_interview_ratings(study, n_interviews=6)
    reliability_study(study)
    written = score_study(study)
    assert {p: p.read_bytes() for p in files} == before
    assert (study.reliability_dir / "interviews" / "reliability.json").is_file()
    for name in ("clip_scores.csv", "dyad_scores.csv"):
        assert (study.scores_dir / name).read_bytes() == before_scores[name]
    wide = pd.read_csv(written["wide CSV"], dtype=str, keep_default_na=False)
    old = scores_before["dyad_scores_wide.csv"]
    assert len(wide) > len(old)  # sessions with an interview and no video
    pd.testing.assert_frame_equal(wide[old.columns].iloc[:len(old)], old)  # same text
