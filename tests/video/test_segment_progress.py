"""Progress of a real segment run on stderr, and `segment --help` (the display itself:
tests/unit/test_segment_progress_display.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from video_helpers import make_study

from coding_pipeline.cli import cli
from coding_pipeline.video.synth import write_sample_video


def test_segment_help_explains_itself_with_an_example():
    result = CliRunner().invoke(cli, ["segment", "--help"])
    assert result.exit_code == 0
    assert "coding-pipeline segment trial-2026 --epoch 30 --workers 2" in result.output
    assert "--epoch" in result.output and "--workers" in result.output


@pytest.mark.video
def test_segment_shows_progress_on_stderr(tmp_path):
    write_sample_video(tmp_path / "a.mp4", 2)
    write_sample_video(tmp_path / "b.mp4", 2, seed=1)
    study = make_study(tmp_path / "s", ["D1,T1,,../a.mp4,,", "D2,T1,,../b.mp4,,"], epoch=1.0)
    result = CliRunner().invoke(cli, ["segment", str(study.root), "--workers", "2"])
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if line.startswith("finished")]
    assert len(progress) == 2 and progress[-1].endswith("real time")
    assert "2/2 sessions, 4 s of video at" in progress[-1]
    assert "4 clips written from 2 sessions" in result.stdout
