"""The pure parts of segment's clip table and job planning (segment/clips.py, segment/jobs.py):
relabelling, replacing a session's rows, and the notes on why a run re-cuts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coding_pipeline.segment.clips import CLIPS_TABLE_COLUMNS, relabel_sessions, replace_session
from coding_pipeline.segment.jobs import SessionJob, SessionOutcome, plan_field, recut_notes
from coding_pipeline.study import Session
from coding_pipeline.video.cut import EncodeSettings

PLAN = "epoch=10;start=;end=;min_last=5"


def job(dyad: str, timepoint: str, arm: str = "A", row: int = 2, source: str = "a.mp4",
        plan: str = PLAN, existing: list[dict[str, str]] | None = None,
        pushed: bool = False) -> SessionJob:
    session = Session(row, dyad, timepoint, arm, Path(source), None, None)
    return SessionJob(session=session, where=f"sessions.csv row {row} ({source})",
                      source=source, plan=plan, epoch_seconds=float(plan_field(plan, "epoch")),
                      min_last_epoch=5.0, settings=EncodeSettings(), clips_dir=Path("clips"),
                      manifest=Path(".segment/x.json"), existing=existing or [], pushed=pushed)


def clip_row(clip_id: str, dyad: str, timepoint: str, index: int, arm: str = "A",
             source: str = "a.mp4", plan: str = PLAN) -> dict[str, str]:
    row = dict.fromkeys(CLIPS_TABLE_COLUMNS, "")
    row.update(clip_id=clip_id, dyad_id=dyad, timepoint=timepoint, arm=arm, source=source,
               plan=plan, epoch_index=str(index), file=f"clips/{clip_id}.mp4", session_row="2")
    return row


def table(*rows: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=CLIPS_TABLE_COLUMNS, dtype=str)


def test_a_corrected_dyad_id_takes_over_the_clips_of_the_old_one():
    clips = table(clip_row("c1", "D1", "T1", 0), clip_row("c2", "D1", "T1", 1))
    notes: list[str] = []
    moved = relabel_sessions(clips, [job("D01", "T1", row=3)], {("D01", "T1")}, notes)
    assert list(moved["dyad_id"]) == ["D01", "D01"]
    assert list(moved["clip_id"]) == ["c1", "c2"] and list(moved["session_row"]) == ["3", "3"]
    assert notes == ["sessions.csv row 3 (a.mp4): relabelled 2 clips of D1/T1 as D01/T1 (same "
                     "video and epochs; same clip ids, nothing re-encoded)."]
    assert list(clips["dyad_id"]) == ["D1", "D1"]  # the table given is left as it was


def test_clips_of_another_video_or_a_listed_session_are_not_taken():
    clips = table(clip_row("c1", "D1", "T1", 0, source="b.mp4"), clip_row("c2", "D2", "T1", 0))
    notes: list[str] = []
    same = relabel_sessions(clips, [job("D01", "T1")], {("D01", "T1"), ("D2", "T1")}, notes)
    assert same.equals(clips) and notes == []


def test_a_changed_arm_is_written_into_the_sessions_clips():
    clips = table(clip_row("c1", "D1", "T1", 0, arm="A"))
    notes: list[str] = []
    moved = relabel_sessions(clips, [job("D1", "T1", arm="B")], {("D1", "T1")}, notes)
    assert list(moved["arm"]) == ["B"]
    assert notes == ["sessions.csv row 2 (a.mp4): arm of 1 clip changed from 'A' to 'B'."]


def test_a_cut_session_replaces_its_rows_in_sessions_csv_then_epoch_order():
    clips = table(clip_row("old", "D2", "T1", 0), clip_row("b0", "D1", "T1", 0))
    outcome = SessionOutcome(("D2", "T1"), "done",
                             rows=[clip_row("n1", "D2", "T1", 1), clip_row("n0", "D2", "T1", 0)])
    merged = replace_session(clips, outcome, {("D2", "T1"): 2, ("D1", "T1"): 3})
    assert list(merged["clip_id"]) == ["n0", "n1", "b0"]
    assert list(merged.columns) == CLIPS_TABLE_COLUMNS


def test_recut_notes_count_sessions_per_reason_and_spare_those_given_to_coders():
    old = [clip_row("c1", "D1", "T1", 0)]
    jobs = [job("D1", "T1", plan="epoch=30;start=;end=;min_last=5", existing=old),
            job("D2", "T1", plan="epoch=30;start=;end=;min_last=5", existing=old),
            job("D3", "T1", source="new.mp4", existing=old),
            job("D4", "T1", plan="epoch=30;start=;end=;min_last=5", existing=old, pushed=True),
            job("D5", "T1", plan="epoch=10;start=5;end=;min_last=5", existing=old),
            job("D6", "T1", existing=old), job("D7", "T1")]
    assert recut_notes(jobs) == [
        "re-cutting 2 sessions: epoch changed from 10 s to 30 s.",
        "re-cutting 1 session: their video changed in sessions.csv.",
        "re-cutting 1 session: start, end or min_last_epoch changed."]
