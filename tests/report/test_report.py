"""The HTML report: every section present, figures embedded, nothing loaded from the network."""

import html
import re
from pathlib import Path

import pandas as pd

from coding_pipeline.report.html import report_study
from coding_pipeline.study import load_study


def test_report_is_self_contained_and_has_every_section(rated_study):
    path = report_study(load_study(rated_study.root))
    text = path.read_text()
    for heading in ("Methods", "Reliability", "ICC forms and variance components",
                    "Reliability of session scores (D-study)", "Alpha with 95% intervals",
                    "Coder pairs", "Coder bias", "Bland-Altman plots of composites",
                    "Drift over time", "Coder certification", "Score distributions by timepoint"):
        assert f"<h2>{heading}</h2>" in text
    assert text.index("<h2>Methods</h2>") < text.index("<h2>Reliability</h2>")
    sources = re.findall(r'src="([^"]+)"', text)
    # forest + 3 D-study + 2 heatmaps + 3 Bland-Altman + 2 drift + 3 score figures
    assert len(sources) == 14
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in text and "https://" not in text
    assert "t@lab.org" in text and ("pass" in text or "fail" in text)
    for statistic in ("ICC(A,1)", "ICC(C,k)", "Gwet's AC2", "G and Phi", "Weighted kappa"):
        assert statistic in html.unescape(text)  # each explained in one line
    assert "Maternal sensitivity (composite)" in text
    # no dyad identifiers in a report that may be shown outside the lab
    assert "D00" not in re.sub(r'src="[^"]+"', "", text)


def test_report_is_blinded_by_default_and_unblinded_on_request(rated_study):
    """Issue 11: no arm anywhere unless --unblinded, which says so in the title."""
    from click.testing import CliRunner

    from coding_pipeline.cli import cli

    blinded = report_study(load_study(rated_study.root)).read_text()
    visible = re.sub(r'src="[^"]+"', "", blinded)
    for word in ("treatment", "control", "by arm", "UNBLINDED"):  # the fixture's arm names
        assert word not in visible, word
    assert "Blinded: no trial arm" in visible
    outcome = CliRunner().invoke(cli, ["report", str(rated_study.root), "--unblinded"])
    assert outcome.exit_code == 0, outcome.output
    unblinded = (rated_study.root / "report.html").read_text()
    assert "<title>Coding report (UNBLINDED" in unblinded
    assert "<h2>Score distributions by arm and timepoint</h2>" in unblinded
    assert len(re.findall(r'src="data:image/png', unblinded)) == 14
    # the arm figures differ from the blinded ones (one box per arm)
    assert set(re.findall(r'src="([^"]+)"', unblinded)) != set(
        re.findall(r'src="([^"]+)"', blinded))


def test_report_reads_the_ratings_once_and_no_score_file_back(rated_study, monkeypatch):
    """Issue 17: one read and check of ratings.csv serves reliability, scores and consensus,
    and the report's scores come from memory, not from dyad_scores.csv read back."""
    read: list[str] = []
    read_bytes, read_csv = Path.read_bytes, pd.read_csv

    def counted_bytes(path):
        read.append(path.name)
        return read_bytes(path)

    def counted_csv(source, *args, **kwargs):
        if isinstance(source, str | Path):
            read.append(Path(source).name)
        return read_csv(source, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", counted_bytes)
    monkeypatch.setattr(pd, "read_csv", counted_csv)
    report_study(load_study(rated_study.root))
    assert read.count("ratings.csv") == 1
    assert not [name for name in read if name.startswith("dyad_scores")]


def test_report_has_a_blinded_rf_section_with_interview_ratings(rated_study,
                                                                add_interview_ratings):
    add_interview_ratings(rated_study, n_interviews=12, second_coder_shift=0.3)
    key = pd.read_csv(rated_study.transcripts_csv, dtype=str, keep_default_na=False)
    key["dyad_id"] = key["dyad_id"].str[1:].astype(int).map(lambda d: f"D{d - 1:02d}")
    key["arm"] = key["dyad_id"].map(lambda d: "treatment" if int(d[1:]) % 2 else "control")
    key.to_csv(rated_study.transcripts_csv, index=False)
    blinded = report_study(load_study(rated_study.root)).read_text()
    assert "<h2>Interviews: reflective functioning</h2>" in blinded
    section = blinded[blinded.index("<h2>Interviews: reflective functioning</h2>"):]
    assert "Overall reflective functioning (composite)" in section
    assert "double-coded interviews" in section and "RF score distributions by timepoint" in section
    visible = re.sub(r'src="[^"]+"', "", blinded)
    for word in ("treatment", "control", "by arm", "UNBLINDED", "D00"):
        assert word not in visible, word
    figures = len(re.findall(r'src="data:image/png', section))
    assert figures == 4  # one per RF composite
    unblinded = report_study(load_study(rated_study.root), unblinded=True).read_text()
    section = unblinded[unblinded.index("<h2>Interviews: reflective functioning</h2>"):]
    assert "RF score distributions by arm and timepoint" in section
    assert (rated_study.scores_dir / "interview_scores.csv").is_file()
    assert "rf_overall" in pd.read_csv(rated_study.scores_dir / "dyad_scores_wide.csv").columns


def test_report_without_interviews_has_no_rf_section(rated_study):
    text = report_study(load_study(rated_study.root)).read_text()
    assert "reflective functioning" not in text


def test_a_study_rated_on_interviews_only_gets_its_rf_report(rated_study, add_interview_ratings):
    """RF is the trial's primary outcome: a study whose coders have rated interviews but no clip
    yet still gets its report (the RF section), blinded."""
    rated_study.ratings_csv.unlink()
    add_interview_ratings(rated_study, n_interviews=12, second_coder_shift=0.3)
    text = report_study(load_study(rated_study.root)).read_text()
    assert "<h2>Interviews: reflective functioning</h2>" in text and "no clip rated yet" in text
    assert "<h2>Reliability</h2>" not in text and "UNBLINDED" not in text
    assert (rated_study.reliability_dir / "interviews" / "reliability.json").is_file()
    assert (rated_study.scores_dir / "interview_scores.csv").is_file()
