"""Movement synchrony beside the ratings: scores/motion_scores.csv and motion_pseudo.json, the
motion columns in the wide and by-dyad tables and their SPSS files, and the report's section,
on generated motion series whose child follows the caregiver 0.5 s later."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner
from motion_files import delayed_pair, write_motion_csv, write_study_motion

from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.motion.scores import MEASURES, NO_SERIES
from coding_pipeline.motion.series import series_path
from coding_pipeline.report.html import report_study
from coding_pipeline.scores import score_study
from coding_pipeline.scores.motion import MERGED
from coding_pipeline.study import load_study

SESSIONS = [(f"D{d:02d}", timepoint) for d in range(12) for timepoint in ("baseline", "post")]


@pytest.fixture
def motion_study(rated_study):
    """The rated study with motion series for every session but D11 post."""
    write_study_motion(rated_study.root, SESSIONS[:-1], seed=4, seconds=150)
    return load_study(rated_study.root)


def test_without_motion_series_the_score_files_are_as_before(rated_study):
    written = score_study(load_study(rated_study.root))
    assert "motion CSV" not in written
    assert not (rated_study.scores_dir / "motion_scores.csv").exists()
    wide = pd.read_csv(rated_study.scores_dir / "dyad_scores_wide.csv")
    assert not set(MERGED) & set(wide.columns)


def test_motion_scores_per_session_and_the_study_comparison(motion_study):
    written = score_study(load_study(motion_study.root))
    motion = pd.read_csv(motion_study.scores_dir / "motion_scores.csv",
                         keep_default_na=False, na_values=[""])
    assert written["motion CSV"] == motion_study.scores_dir / "motion_scores.csv"
    assert list(motion.columns) == ["dyad_id", "timepoint", "arm", "child_age", *MEASURES,
                                    "reason"]  # sessions.csv's columns, as in the dyad scores
    assert len(motion) == 24
    scored = motion[motion["reason"].isna()]
    assert len(scored) == 23
    assert (scored["peak_lag_s"] - 0.5).abs().max() <= 1 / 30  # the delay, within one frame
    assert (scored["caregiver_leads_share"] > 0.5).all()
    assert (scored["sync_vs_pseudo"] > 2).mean() > 0.9
    assert (scored["sync_peak"] > scored["pseudo_sync_peak"]).all()
    assert (scored["n_surrogates"] == 22).all()  # 1000 asked, every other child at most
    assert (scored["motion_fps"] == 30).all() and (scored["background_moved_share"] == 0).all()
    assert scored["caregiver_motion"].between(0.01, 0.5).all()
    missing = motion[(motion["dyad_id"] == "D11") & (motion["timepoint"] == "post")].iloc[0]
    assert missing["reason"] == NO_SERIES and np.isnan(missing["sync_peak"])
    comparison = json.loads((motion_study.scores_dir / "motion_pseudo.json").read_text())
    assert comparison["n_sessions"] == 23 and comparison["df"] == 22
    assert comparison["p_value"] < 1e-6 and comparison["real_mean"] > comparison["pseudo_mean"]
    assert comparison["seed"] == motion_study.config.seed and comparison["surrogates"] == 1000
    assert comparison["settings"]["window_s"] == 30.0 and not comparison["resampled"]
    assert "D0" not in json.dumps(comparison)


def test_the_same_seed_gives_the_same_scores(motion_study):
    score_study(load_study(motion_study.root))
    first = (motion_study.scores_dir / "motion_scores.csv").read_bytes()
    score_study(load_study(motion_study.root))
    assert (motion_study.scores_dir / "motion_scores.csv").read_bytes() == first


def test_motion_columns_join_the_wide_tables_and_spss_files(rated_study):
    score_study(load_study(rated_study.root))
    plain = {name: pd.read_csv(rated_study.scores_dir / name) for name in (
        "dyad_scores_wide.csv", "dyad_scores_by_dyad.csv", "dyad_scores.csv")}
    write_study_motion(rated_study.root, SESSIONS[:-1], seed=4, seconds=150)
    score_study(load_study(rated_study.root))
    wide = pd.read_csv(rated_study.scores_dir / "dyad_scores_wide.csv")
    by_dyad = pd.read_csv(rated_study.scores_dir / "dyad_scores_by_dyad.csv")
    long = pd.read_csv(rated_study.scores_dir / "dyad_scores.csv")
    # every column and value as before, the motion columns after them
    pd.testing.assert_frame_equal(wide[plain["dyad_scores_wide.csv"].columns],
                                  plain["dyad_scores_wide.csv"])
    assert list(wide.columns) == [*plain["dyad_scores_wide.csv"].columns, *MERGED]
    pd.testing.assert_frame_equal(long, plain["dyad_scores.csv"])
    expected = [f"{name}_{t}" for t in ("baseline", "post") for name in MERGED]
    assert list(by_dyad.columns) == [*plain["dyad_scores_by_dyad.csv"].columns, *expected]
    motion = pd.read_csv(rated_study.scores_dir / "motion_scores.csv")
    row = motion[(motion["dyad_id"] == "D03") & (motion["timepoint"] == "post")].iloc[0]
    assert by_dyad.set_index("dyad_id").loc["D03", "sync_peak_post"] == pytest.approx(
        row["sync_peak"])
    assert np.isnan(by_dyad.set_index("dyad_id").loc["D11", "sync_peak_post"])
    _, meta = pyreadstat.read_sav(str(rated_study.scores_dir / "dyad_scores_by_dyad.sav"))
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["sync_peak_post"].startswith("Movement synchrony") and labels[
        "sync_peak_post"].endswith("at post")
    assert meta.variable_measure["sync_vs_pseudo_baseline"] == "scale"
    data, meta = pyreadstat.read_sav(str(rated_study.scores_dir / "dyad_scores_wide.sav"))
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["peak_lag_s"] == "Lag of peak synchrony in seconds (> 0: caregiver leads)"
    assert data["sync_peak"].notna().sum() == 23


def test_sessions_at_different_rates_are_analysed_at_the_lowest(rated_study):
    rng = np.random.default_rng(2)
    for number, (dyad_id, timepoint) in enumerate(SESSIONS[:8]):
        fps = 25.0 if number % 2 else 30.0
        caregiver, child = delayed_pair(rng, 150, fps, 0.6)
        write_motion_csv(series_path(rated_study.root, dyad_id, timepoint), fps, caregiver,
                         child)
    score_study(load_study(rated_study.root))
    motion = pd.read_csv(rated_study.scores_dir / "motion_scores.csv").dropna(
        subset=["sync_peak"])
    assert len(motion) == 8 and (motion["motion_fps"] == 25).all()
    assert (motion["peak_lag_s"] - 0.6).abs().max() <= 1 / 25 + 1e-9
    comparison = json.loads((rated_study.scores_dir / "motion_pseudo.json").read_text())
    assert comparison["resampled"] and comparison["session_rates"] == [25.0, 30.0]


def test_a_stray_motion_file_is_reported(motion_study):
    (motion_study.root / "motion" / "D99_x.csv").write_text("time,caregiver,child\n")
    warnings: list[str] = []
    score_study(load_study(motion_study.root), warnings)
    assert any("D99_x.csv" in w and "match no session" in w for w in warnings)


def visible(text: str) -> str:
    return re.sub(r'src="[^"]+"', "", text)


def test_report_motion_section_is_blinded_by_default(motion_study):
    text = report_study(load_study(motion_study.root)).read_text()
    assert "<h2>Movement synchrony</h2>" in text
    assert len(re.findall(r'src="data:image/png', text)) == 14 + 3
    shown = visible(text)
    assert "<h3>Session 1</h3>" in shown
    assert "Paired t-test" in shown and "p &lt; .001" in shown
    for word in ("D00", "D03", "baseline", "post", "treatment", "control"):
        assert word not in shown, word


def test_report_shows_the_session_the_analyst_chose(motion_study):
    runner = CliRunner()
    outcome = runner.invoke(cli, ["report", str(motion_study.root), "--motion-session",
                                  "D03:post"])
    assert outcome.exit_code == 0, outcome.output
    shown = visible((motion_study.root / "report.html").read_text())
    assert "<h3>Session 8</h3>" in shown and "D03" not in shown  # 8th in sessions.csv order
    outcome = runner.invoke(cli, ["report", str(motion_study.root), "--unblinded",
                                  "--motion-session", "D03:post"])
    assert outcome.exit_code == 0, outcome.output
    assert "<h3>D03 at post</h3>" in visible((motion_study.root / "report.html").read_text())
    wrong = runner.invoke(cli, ["report", str(motion_study.root), "--motion-session", "D03"])
    assert wrong.exit_code == 1 and "DYAD:TIMEPOINT" in wrong.output


def test_asking_for_a_motion_session_without_motion_series_is_refused(rated_study):
    with pytest.raises(PipelineError, match="run `coding-pipeline motion` first"):
        report_study(load_study(rated_study.root), motion_session="D00:baseline")
