"""Never lose or repeat work: reruns skip, finish interrupted sessions, keep clip ids."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from video_helpers import decode_clip, make_study, stamps

import coding_pipeline.video.cut as cut
from coding_pipeline.cli import cli
from coding_pipeline.segment import segment_study
from coding_pipeline.study import load_study
from coding_pipeline.video.synth import write_sample_video

pytestmark = pytest.mark.video


@pytest.fixture
def study(tmp_path):
    write_sample_video(tmp_path / "a.mp4", 6, seed=1)
    write_sample_video(tmp_path / "b.mp4", 5, seed=2)
    return make_study(tmp_path / "study", ["D1,T1,A,../a.mp4,,", "D2,T1,B,../b.mp4,,"],
                      epoch=2.0)


def test_rerun_skips_complete_sessions_and_redoes_a_missing_clip(study):
    first = segment_study(study, workers=2, progress=False)
    assert (first.sessions_done, first.clips_written, first.problems) == (2, 6, [])
    clips = pd.read_csv(study.clips_csv)
    before = stamps(study)
    again = segment_study(study, workers=2, progress=False)
    assert (again.sessions_skipped, again.clips_written) == (2, 0)
    assert stamps(study) == before
    assert pd.read_csv(study.clips_csv).equals(clips)

    lost = study.root / clips.file[1]
    lost.unlink()
    redo = segment_study(study, workers=1, progress=False)
    assert (redo.sessions_done, redo.clips_written) == (1, 1)
    after = stamps(study)
    assert {k: v for k, v in after.items() if k != lost.name} == {
        k: v for k, v in before.items() if k != lost.name}
    assert pd.read_csv(study.clips_csv).equals(clips)
    assert decode_clip(lost).indices == list(range(60, 120))


def test_interrupted_session_keeps_finished_clips_and_ids(study, monkeypatch):
    original = cut._ClipWriter.add
    written = {"frames": 0}

    def crash_midway(self, frame, index, sample, repeat):
        written["frames"] += 1
        if written["frames"] == 100:  # inside the second clip of the first session
            raise KeyboardInterrupt
        original(self, frame, index, sample, repeat)

    monkeypatch.setattr(cut._ClipWriter, "add", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        segment_study(study, workers=1, progress=False)
    assert not study.clips_csv.exists()
    finished = stamps(study)
    assert len(finished) == 1 and not list(study.clips_dir.glob(".*part*"))
    monkeypatch.setattr(cut._ClipWriter, "add", original)

    report = segment_study(study, workers=1, progress=False)
    assert (report.sessions_done, report.clips_written) == (2, 5)
    clips = pd.read_csv(study.clips_csv)
    name = next(iter(finished))
    assert name in set(clips.file.str.split("/").str[-1])
    assert stamps(study)[name] == finished[name]
    assert len(clips) == 6 and clips.clip_id.is_unique
    manifests = [json.loads(p.read_text()) for p in (study.root / ".segment").glob("*.json")]
    assert len(manifests) == 2 and all(m["complete"] is True for m in manifests)  # kept: a record
    shown = [i for f in clips.file[clips.dyad_id == "D1"] for i in
             decode_clip(study.root / f).indices]
    assert shown == list(range(180))


def test_clip_ids_are_random_and_opaque(study):
    segment_study(study, workers=1, progress=False)
    clips = pd.read_csv(study.clips_csv, dtype=str)
    for clip_id in clips.clip_id:
        assert len(clip_id) == 12 and int(clip_id, 16) >= 0 and "D1" not in clip_id
    other = make_study(study.root.parent / "again", ["D1,T1,A,../a.mp4,,",
                                                     "D2,T1,B,../b.mp4,,"], epoch=2.0)
    segment_study(other, workers=1, progress=False)
    assert set(pd.read_csv(other.clips_csv, dtype=str).clip_id).isdisjoint(clips.clip_id)


def test_epoch_change_recuts_unpushed_sessions_but_refuses_pushed_ones(study):
    segment_study(study, workers=1, progress=False)
    clips = pd.read_csv(study.clips_csv, dtype=str)
    pushed = clips[clips.dyad_id == "D1"].clip_id.iloc[0]
    (study.root / "batches").mkdir()
    (study.root / "batches" / "round1.csv").write_text(
        f"clip_id,coder,role,order\n{pushed},coder1@lab.org,primary,1\n")
    result = CliRunner().invoke(cli, ["segment", str(study.root), "--epoch", "3", "--quiet"])
    assert result.exit_code == 1
    refusal = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(refusal) == 1 and "row 2 (../a.mp4)" in refusal[0]
    assert "already given to coders" in refusal[0] and "cut with 2 s epochs" in refusal[0]
    assert "rerun with --epoch 2, or set epoch_seconds = 2 in study.toml" in refusal[0]
    assert "Note: re-cutting 1 session: epoch changed from 2 s to 3 s." in result.output
    assert "set epoch_seconds = 3 in" in result.output
    after = pd.read_csv(study.clips_csv, dtype=str)
    assert list(after[after.dyad_id == "D1"].clip_id) == list(clips[clips.dyad_id == "D1"].clip_id)
    recut = after[after.dyad_id == "D2"]
    assert list(recut.frames) == ["90", "60"]
    assert set(recut.clip_id).isdisjoint(clips.clip_id)
    old = clips[clips.dyad_id == "D2"].file
    assert not any((study.root / f).exists() for f in old)
    assert len(list(study.clips_dir.glob("*.mp4"))) == len(after)
    assert load_study(study.root).config.epoch_seconds == 2.0
