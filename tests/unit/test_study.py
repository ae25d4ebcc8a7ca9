"""The study folder: init, settings, sessions.csv parsing and its error messages."""

import os
import stat

import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import (
    init_study,
    load_study,
    parse_time,
    read_sessions,
    read_table,
    write_text_atomic,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("95", 95.0), ("95.5", 95.5), ("1:35", 95.0), ("01:35.250", 95.25), ("1:00:00", 3600.0),
    ("0:00:01.5", 1.5), ("", None), (None, None), ("  12 ", 12.0),
])
def test_parse_time_accepts_seconds_and_clock_times(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["abc", "1:75", "-3", "1:2:3:4", "12s"])
def test_parse_time_rejects_nonsense(text):
    with pytest.raises(ValueError, match="time|60 or more"):
        parse_time(text)


def test_init_writes_settings_scheme_and_template_and_keeps_edits(tmp_path):
    study = init_study(tmp_path / "trial", epoch_seconds=45)
    assert study.config.name == "trial"
    assert study.config.epoch_seconds == 45.0
    assert study.scheme_path.is_file()
    assert study.sessions_csv.read_text().startswith("dyad_id,timepoint,arm,video,start,end")
    study.sessions_csv.write_text("dyad_id,timepoint,arm,video,start,end\nD1,T1,,a.mp4,,\n")
    init_study(tmp_path / "trial")
    assert "D1,T1" in study.sessions_csv.read_text()


def test_load_study_explains_a_missing_folder(tmp_path):
    with pytest.raises(PipelineError, match="coding-pipeline init"):
        load_study(tmp_path / "nowhere")


def test_bad_setting_names_the_field(tmp_path):
    study = init_study(tmp_path / "s")
    text = study.toml_path.read_text().replace("epoch_seconds = 60.0", 'epoch_seconds = "long"')
    study.toml_path.write_text(text)
    with pytest.raises(PipelineError, match=r"\[segment\] epoch_seconds"):
        load_study(study.root)


def test_sessions_rows_are_parsed_and_bad_rows_named(tmp_path):
    study = init_study(tmp_path / "s")
    study.sessions_csv.write_text(
        "dyad_id,timepoint,arm,video,start,end,child_age\n"
        "D1,T1,A,videos/d1.mp4,0:05,1:05,14\n"
        "D2,T1,B,/abs/d2.mp4,,,20\n"
        "D3,T1,A,videos/d3.mp4,ten,,11\n"
        "D4,T1,A,videos/d4.mp4,60,30,9\n"
        "D1,T1,A,videos/d1b.mp4,,,14\n"
        ",T1,A,videos/d5.mp4,,,1\n"
        ",,,,,,\n"
    )
    sessions, problems = read_sessions(study)
    assert [(s.dyad_id, s.start_s, s.end_s) for s in sessions] == [
        ("D1", 5.0, 65.0), ("D2", None, None)]
    assert sessions[0].video == study.root / "videos/d1.mp4"
    assert str(sessions[1].video) == "/abs/d2.mp4"
    assert sessions[0].extra == {"child_age": "14"}
    assert len(problems) == 4
    assert problems[0].startswith("sessions.csv row 4 (videos/d3.mp4)")
    assert "not before end" in problems[1] and "row 5" in problems[1]
    assert "also on row 2" in problems[2]
    assert "dyad_id is empty" in problems[3]


def test_sessions_saved_by_excel_are_read(tmp_path):
    study = init_study(tmp_path / "s")
    text = "Dyad ID;Timepoint;Arm;Video;Start;End\r\nD1;T1;A;Mütter/clip ä.mp4;0:05;\r\n"
    study.sessions_csv.write_bytes(text.encode("cp1252"))
    sessions, problems = read_sessions(study)
    assert problems == []
    assert sessions[0].video == study.root / "Mütter/clip ä.mp4"
    assert sessions[0].start_s == 5.0
    study.sessions_csv.write_bytes(b"\xef\xbb\xbf" + text.replace(";", "\t").encode("utf-8"))
    assert read_sessions(study)[0][0].video.name == "clip ä.mp4"


def test_the_same_footage_on_two_rows_is_refused(tmp_path):
    study = init_study(tmp_path / "s")
    study.sessions_csv.write_text(
        "dyad_id,timepoint,arm,video,start,end\n"
        "D1,T1,A,long.mp4,0,600\n"
        "D1,T2,A,long.mp4,600,1200\n"
        "D2,T1,A,long.mp4,1100,\n"
    )
    sessions, problems = read_sessions(study)
    assert [s.timepoint for s in sessions] == ["T1", "T2"]
    assert problems == [
        "sessions.csv row 4 (long.mp4): the same stretch of long.mp4 is also listed on row 3; "
        "give each session its own video, or start/end times that do not overlap."]


def test_empty_or_unreadable_tables_are_named(tmp_path):
    empty = tmp_path / "ratings.csv"
    empty.write_text("")
    with pytest.raises(PipelineError, match="ratings.csv is empty"):
        read_table(empty, ["clip_id"], "pull first")
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text("Clip ID;Coder;Item;Value\nc1;a@x.org;warmth;3\n")
    table = read_table(semicolons, ["clip_id", "coder", "item", "value"], "")
    assert table.to_dict("records") == [
        {"clip_id": "c1", "coder": "a@x.org", "item": "warmth", "value": "3"}]


def test_sessions_without_required_column_is_one_clear_error(tmp_path):
    study = init_study(tmp_path / "s")
    study.sessions_csv.write_text("dyad,timepoint,video\nD1,T1,a.mp4\n")
    with pytest.raises(PipelineError, match="missing column.*dyad_id"):
        read_sessions(study)


def test_atomic_write_with_private_mode(tmp_path):
    target = tmp_path / "secret.json"
    write_text_atomic(target, "{}", mode=0o600)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.json"]
    write_text_atomic(tmp_path / "plain.csv", "a,b\n")
    assert stat.S_IMODE(os.stat(tmp_path / "plain.csv").st_mode) == 0o666 & ~current_umask()


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
