"""The guarantees `motion` shares with `segment`: resumable (an unchanged session is skipped, a
changed ROI measures that session again), one run per study, a clear line for an unreadable
file or a session without ROIs while the others are measured, the CLI end to end, sessions in
worker processes and on a Dask cluster giving the same series."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from dyad_video import ROIS, DyadScene, write_dyad_video
from motion_helpers import make_study, read_record, read_series, write_study_files

from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.motion.files import motion_csv_path
from coding_pipeline.motion.stage import motion_study
from coding_pipeline.segment import stage_lock
from coding_pipeline.study import load_study

pytestmark = pytest.mark.video


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("videos")
    return [write_dyad_video(folder / f"s{i}.mp4", DyadScene(seconds=4, seed=i))
            for i in range(2)]


def stamps(study) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (study.root / "motion").iterdir()}


def test_a_rerun_skips_unchanged_sessions_and_remeasures_a_changed_roi(tmp_path, videos):
    sessions = [("D1", "T1", videos[0]), ("D2", "T1", videos[1])]
    study = make_study(tmp_path, sessions)
    before = stamps(study)
    again = motion_study(study, workers=1, progress=False)
    assert (again.sessions_done, again.sessions_skipped, again.problems) == (0, 2, [])
    assert stamps(study) == before
    moved = {**ROIS, "child": (0.5, 0.2, 0.45, 0.7)}
    write_study_files(study, sessions, {("D2", "T1"): moved})
    changed = motion_study(study, workers=1, progress=False)
    assert (changed.sessions_done, changed.sessions_skipped) == (1, 1)
    after = stamps(study)
    assert after["D1_T1.csv"] == before["D1_T1.csv"]
    assert after["D2_T1.csv"] != before["D2_T1.csv"]
    assert read_record(study, "D2", "T1")["rois"]["child"] == [0.5, 0.2, 0.45, 0.7]


def test_an_edited_series_or_changed_settings_are_measured_again(tmp_path, videos):
    study = make_study(tmp_path, [("D1", "T1", videos[0])])
    path = motion_csv_path(study, "D1", "T1")
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("\n", "\n", 1)[:-40], encoding="utf-8")  # cut short
    assert motion_study(study, workers=1, progress=False).sessions_done == 1
    assert path.read_text(encoding="utf-8") == original
    text = study.toml_path.read_text(encoding="utf-8").replace("blur_kernel = 5",
                                                                "blur_kernel = 3")
    study.toml_path.write_text(text, encoding="utf-8")
    rerun = motion_study(load_study(study.root), workers=1, progress=False)
    assert rerun.sessions_done == 1
    assert read_record(study, "D1", "T1")["settings"]["blur_kernel"] == 3


def test_an_unreadable_file_and_a_session_without_rois_are_one_line_each(tmp_path, videos):
    (tmp_path / "broken.mp4").write_bytes(b"this is not a video" * 100)
    sessions = [("D1", "T1", videos[0]), ("D2", "T1", "../broken.mp4"),
                ("D3", "T2", videos[1])]
    study = make_study(tmp_path, sessions, {("D3", "T2"): None}, run=False)
    report = motion_study(study, workers=1, progress=False)
    assert report.sessions_done == 1
    assert report.problems == [
        "sessions.csv row 3 (../broken.mp4): not a video file FFmpeg can read; check it is "
        "the right file.",
        f"sessions.csv row 4 ({videos[1]}): dyad_id=D3 timepoint=T2 has no boxes in rois.csv: "
        f"draw them (`coding-pipeline rois push {study.root}`, then `rois pull`), or add a "
        "caregiver and a child row for it to rois.csv (dyad_id,timepoint,role,x,y,w,h: "
        "fractions of the displayed picture)."]
    assert sorted(p.name for p in (study.root / "motion").glob("*.csv")) == ["D1_T1.csv"]


def test_a_missing_rois_csv_or_a_bad_row_stops_the_run_with_a_clear_message(tmp_path, videos):
    study = make_study(tmp_path, [("D1", "T1", videos[0])], run=False)
    (study.root / "rois.csv").write_text("dyad_id,timepoint,role,x,y,w,h\n"
                                         "D1,T1,caregiver,0.1,0.1,0.3,0.5\n"
                                         "D1,T1,child,0.6,0.1,120,0.5\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"rois.csv line 3: w = 120 is outside 0..1"):
        motion_study(study, workers=1, progress=False)
    (study.root / "rois.csv").unlink()
    with pytest.raises(PipelineError, match=r"rois.csv not found: motion is measured inside"):
        motion_study(study, workers=1, progress=False)


def test_one_motion_run_at_a_time(tmp_path, videos):
    study = make_study(tmp_path, [("D1", "T1", videos[0])], run=False)
    with stage_lock(study, "motion"), pytest.raises(PipelineError) as refused:
        motion_study(study, workers=1, progress=False)
    assert "another `motion` is running on this study" in str(refused.value)
    assert motion_study(study, workers=1, progress=False).sessions_done == 1  # freed


def test_sessions_whose_names_differ_only_in_case_are_refused(tmp_path, videos):
    study = make_study(tmp_path, [("D1", "T1", videos[0]), ("d1", "t1", videos[1])],
                       run=False)
    report = motion_study(study, workers=1, progress=False)
    assert report.sessions_done == 1
    assert report.problems == [
        f"sessions.csv row 3 ({videos[1]}): its motion file would be d1_t1.csv, the same as "
        f"that of sessions.csv row 2 ({videos[0]}) on disks that ignore case; make the dyad_id "
        "or timepoint differ by more than case."]


def test_files_of_a_session_no_longer_listed_are_removed(tmp_path, videos):
    study = make_study(tmp_path, [("D1", "T1", videos[0]), ("D2", "T1", videos[1])])
    write_study_files(study, [("D1", "T1", videos[0])])
    report = motion_study(study, workers=1, progress=False)
    assert report.notes == ["removed D2_T1.csv: dyad_id=D2 timepoint=T1 is no longer in "
                            "sessions.csv."]
    assert sorted(p.name for p in (study.root / "motion").iterdir()) == [
        ".D1_T1.csv.rows", "D1_T1.csv", "D1_T1.json"]


def test_the_cli_end_to_end(tmp_path, videos):
    study = make_study(tmp_path, [("D1", "T1", videos[0]), ("D2", "T1", videos[1])],
                       run=False)
    runner = CliRunner()
    first = runner.invoke(cli, ["motion", str(study.root)])
    assert first.exit_code == 0, first.output
    assert "finished D1/T1" in first.stderr and "finished D2/T1" in first.stderr
    assert (f"Motion measured in 2 sessions; 0 sessions already complete; 0 rows failed. "
            f"Motion series: {study.root / 'motion'}") in first.stdout
    second = runner.invoke(cli, ["motion", str(study.root), "--quiet"])
    assert second.exit_code == 0 and second.stderr == ""
    assert "Motion measured in 0 sessions; 2 sessions already complete" in second.stdout
    shutil.copyfile(study.root / "study.toml", tmp_path / "video.mp4")  # not a video
    write_study_files(study, [("D1", "T1", videos[0]), ("D2", "T1", videos[1]),
                              ("D3", "T1", "../video.mp4")])
    third = runner.invoke(cli, ["motion", str(study.root), "--quiet"])
    assert third.exit_code == 1
    assert third.stderr == ("Error: sessions.csv row 4 (../video.mp4): not a video file "
                            "FFmpeg can read; check it is the right file.\n")
    assert "--workers" in runner.invoke(cli, ["motion", "--help"]).output


def test_worker_processes_measure_the_same_series(tmp_path, videos):
    sessions = [("D1", "T1", videos[0]), ("D2", "T1", videos[1])]
    alone = make_study(tmp_path / "alone", sessions)
    pooled = make_study(tmp_path / "pooled", sessions, run=False)
    report = motion_study(pooled, workers=2, progress=False)
    assert (report.sessions_done, report.problems) == (2, [])
    for dyad in ("D1", "D2"):
        pd.testing.assert_frame_equal(read_series(pooled, dyad, "T1"),
                                      read_series(alone, dyad, "T1"))


@pytest.mark.cluster
def test_a_dask_cluster_measures_the_same_series(tmp_path, videos):
    distributed = pytest.importorskip("distributed")
    sessions = [("D1", "T1", videos[0]), ("D2", "T1", videos[1])]
    alone = make_study(tmp_path / "alone", sessions)
    shared = make_study(tmp_path / "shared", sessions, run=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        report = motion_study(shared, progress=False, scheduler=cluster.scheduler_address)
    assert (report.sessions_done, report.problems) == (2, [])
    for dyad in ("D1", "D2"):
        pd.testing.assert_frame_equal(read_series(shared, dyad, "T1"),
                                      read_series(alone, dyad, "T1"))
    assert not list((shared.root / ".motion").glob("cluster-*"))  # the marker is gone
