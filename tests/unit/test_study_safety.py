"""Issue 9 (small files, no video, no server): settings with their ranges, encodings, formulas,
file modes, bounded schemes, unreadable folders, damaged credentials and pipeline files."""

from __future__ import annotations

import csv
import io
import os
import stat

import pandas as pd
import pytest
from click.testing import CliRunner

from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.server import read_credentials
from coding_pipeline.scheme import load_scheme
from coding_pipeline.study import (
    init_study,
    load_study,
    neutralise,
    read_sessions,
    read_table,
    restore,
    write_csv_atomic,
)
from coding_pipeline.study import permissions as study_permissions

TEMPLATE = "[segment]\nepoch_seconds = 10\n"


def settings_error(tmp_path, text: str | bytes) -> str:
    study = init_study(tmp_path / f"s{len(list(tmp_path.iterdir()))}")
    path = study.toml_path
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(PipelineError) as caught:
        load_study(study.root)
    message = str(caught.value)
    assert message.startswith(str(path))
    return message


@pytest.mark.parametrize("line, expected", [
    ("[segment]\nepoch_seconds = nan", "[segment] epoch_seconds = nan is not a number: use a "
     "number from 0.01 to 86400."),
    ("[segment]\nepoch_seconds = 0", "epoch_seconds = 0 is out of range: use a value from "
     "0.01 to 86400."),
    ("[segment]\nmax_height = 0", "[segment] max_height = 0 is out of range: use a value from "
     "144 to 4,320."),
    ("[segment]\nmax_height = -720", "max_height = -720 is out of range"),
    ("[segment]\nmax_height = 721", "max_height = 721: H.264 needs an even height; use 720 or "
     "722."),
    ("[segment]\nworkers = -3", "[segment] workers = -3 is out of range: use a value from 0 to "
     "256."),
    ("[reliability]\nbootstrap = -5", "[reliability] bootstrap = -5 is out of range: use a value "
     "from 0 to 1,000,000."),
    ("[reliability]\ndouble_coded_share = 1.5", "double_coded_share = 1.5 is out of range"),
    ("[segment]\nworkers = 1.5", "[segment] workers = 1.5 should be a whole number from 0 to "
     "256."),
    ("[segment]\nepoch_seconds = \"ten\"", "epoch_seconds = 'ten' should be a number from "
     "0.01 to 86400."),
    ("[study]\ngroup_access = 1", "group_access = 1 should be true or false."),
    ("[scores]\nclip_policy = \"best\"", "clip_policy = 'best': use one of consensus, mean, "
     "primary."),
    ("segment = 5", "segment = 5 should be a table: write [segment] on a line of its own"),
])
def test_every_setting_is_checked_with_its_allowed_values(tmp_path, line, expected):
    assert expected in settings_error(tmp_path, line)


def test_binary_or_undecodable_study_toml_is_named_not_a_traceback(tmp_path):
    assert "is not a text file (it holds binary data)" in settings_error(
        tmp_path, b"\x00\x01\x02binary")
    assert "is not UTF-8 text (byte 8): save it as UTF-8" in settings_error(
        tmp_path, b"[study]\n\xff\xfe\x80 = 1\n")


def test_utf16_and_latin1_sessions_are_read(tmp_path):
    study = init_study(tmp_path / "s")
    text = "dyad_id,timepoint,arm,video,start,end,site\nD1,T1,A,v.mp4,,,Zürich\n"
    for encoding in ("utf-16", "cp1252", "utf-8-sig"):
        study.sessions_csv.write_bytes(text.encode(encoding))
        sessions, problems = read_sessions(study)
        assert problems == [] and sessions[0].extra == {"site": "Zürich"}, encoding
    study.sessions_csv.write_bytes(text.encode("utf-16-le"))  # no byte-order mark: named
    with pytest.raises(PipelineError, match="UTF-16 without a byte-order mark"):
        read_sessions(study)


def test_formula_identifiers_are_refused_with_the_row_named(tmp_path):
    study = init_study(tmp_path / "s")
    study.sessions_csv.write_text(
        "dyad_id,timepoint,arm,video,start,end\n"
        "=HYPERLINK(\"http://x\"),T1,A,a.mp4,,\nD2,+cmd|' /C calc'!A0,A,b.mp4,,\n"
        "D3,T1,@SUM(1),c.mp4,,\nD4,T1,-2+3,d.mp4,,\nD5,T1,A,e.mp4,,\n", encoding="utf-8")
    sessions, problems = read_sessions(study)
    assert [s.dyad_id for s in sessions] == ["D5"]
    assert problems[0] == (
        "sessions.csv row 2 (a.mp4): dyad_id '=HYPERLINK(\"http://x\")' begins with '=', which a"
        " spreadsheet runs as a formula; rename it so it begins with a letter or digit.")
    assert problems[1].startswith("sessions.csv row 3 (b.mp4): timepoint '+cmd")
    assert problems[2].startswith("sessions.csv row 4 (c.mp4): arm '@SUM(1)' begins with '@'")
    assert problems[3].startswith("sessions.csv row 5 (d.mp4): arm '-2+3' begins with '-'")


def test_free_text_is_neutralised_in_csv_and_read_back_exactly(tmp_path):
    notes = ["=HYPERLINK(\"http://x\",\"click\")", "+cmd|' /C calc'!A0", "@SUM(A1)", "-x",
             "\tTAB", "\rCR", "'=already quoted", "plain", "-1.5", "+3", "1e5", ""]
    table = pd.DataFrame({"notes": notes, "value": [1.5] * len(notes),
                          "delta": [-2.0] * len(notes)})
    path = tmp_path / "ratings.csv"
    write_csv_atomic(path, table)
    with path.open(newline="", encoding="utf-8") as handle:
        written = [row[0] for row in csv.reader(handle)][1:]
    assert written == [
        "'=HYPERLINK(\"http://x\",\"click\")", "'+cmd|' /C calc'!A0", "'@SUM(A1)", "'-x",
        "'\tTAB", "'\rCR", "''=already quoted", "plain", "-1.5", "+3", "1e5", ""]
    assert set(pd.read_csv(path)["delta"]) == {-2.0}  # numbers untouched
    assert list(read_table(path, ["notes"], "")["notes"]) == notes  # and read back exactly
    assert all(restore(neutralise(text)) == text for text in notes)


def test_scores_keep_exact_text_in_parquet_and_spss_and_neutralise_csv(tmp_path):
    import pyreadstat

    from coding_pipeline.scores import write_parquet, write_sav

    table = pd.DataFrame({"dyad_id": ["D1"], "site": ["=cmd()"], "score": [-1.25]})
    write_csv_atomic(tmp_path / "t.csv", table)
    write_parquet(table, tmp_path / "t.parquet")
    write_sav(table, tmp_path / "t.sav", {})
    assert (tmp_path / "t.csv").read_text().splitlines()[1] == "D1,'=cmd(),-1.25"
    assert pd.read_parquet(tmp_path / "t.parquet")["site"][0] == "=cmd()"
    assert pyreadstat.read_sav(str(tmp_path / "t.sav"))[0]["site"][0] == "=cmd()"


def test_init_makes_the_study_private_and_every_file_stays_so(tmp_path):
    study = init_study(tmp_path / "s")
    assert stat.S_IMODE(study.root.stat().st_mode) == 0o700
    for path in study.root.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    write_csv_atomic(study.root / "scores" / "x.csv", pd.DataFrame({"a": [1]}))
    assert stat.S_IMODE((study.root / "scores").stat().st_mode) == 0o700
    assert stat.S_IMODE((study.root / "scores" / "x.csv").stat().st_mode) == 0o600
    (study.root / "made-by-a-library.bin").write_bytes(b"x")  # PyAV, pyreadstat, the server
    assert stat.S_IMODE((study.root / "made-by-a-library.bin").stat().st_mode) == 0o600


def test_a_readable_study_folder_is_warned_about_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(study_permissions, "_WARNED", set())
    study = init_study(tmp_path / "s")
    capsys.readouterr()
    os.chmod(study.root, 0o755)
    load_study(study.root)
    load_study(study.root)
    warning = capsys.readouterr().err
    assert warning.count("Warning:") == 1
    assert (f"Warning: {study.root} (mode 0755) can be read by its group and other users, and "
            "clips.csv and sessions.csv link clips to families: run `chmod -R go-rwx "
            f"{study.root}`. To share the study with a lab group, set group_access = true under "
            "[study] in study.toml") in warning
    monkeypatch.setattr(study_permissions, "_WARNED", set())
    os.chmod(study.root, 0o750)
    study.toml_path.write_text("[study]\ngroup_access = true\n")
    load_study(study.root)
    assert capsys.readouterr().err == ""  # the lab chose a shared group
    write_csv_atomic(study.root / "g.csv", pd.DataFrame({"a": [1]}))
    assert stat.S_IMODE((study.root / "g.csv").stat().st_mode) == 0o640


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes everything")
def test_unwritable_folders_are_named_with_what_to_do(tmp_path):
    study = init_study(tmp_path / "s")
    os.chmod(study.root, 0o500)
    try:
        result = CliRunner().invoke(cli, ["init", str(study.root)])
    finally:
        os.chmod(study.root, 0o700)
    assert result.exit_code == 1 and "permission denied" in result.output


def test_permission_errors_from_any_writer_are_one_line_messages(tmp_path, monkeypatch):
    """Root (CI) may write anywhere, so the error is raised where a writer would raise it."""
    study = init_study(tmp_path / "s")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(study.root / "exports"))

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(PipelineError, match=r"exports: permission denied: this user cannot "
                       "write in it. Run the command as the study folder's owner"):
        write_csv_atomic(study.root / "exports" / "x.csv", pd.DataFrame({"a": [1]}))
    monkeypatch.setattr("coding_pipeline.scores.score_study", refuse)
    result = CliRunner().invoke(cli, ["scores", str(study.root)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: {study.root / 'exports'}: permission denied")


def test_scheme_aliases_and_size_are_bounded(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{','.join(['*' + previous] * 9)}]")
    bomb.write_text("name: x\nversion: 1\n" + "\n".join(lines) + "\nitems: *i\n")
    with pytest.raises(PipelineError, match=rf"^{bomb}: YAML anchors and aliases"):
        load_scheme(bomb)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 1_000_001)
    with pytest.raises(PipelineError, match=rf"^{big} is 1,000,003 bytes; a coding scheme is at "
                       "most 1,000,000"):
        load_scheme(big)


def test_damaged_credentials_never_advise_deleting_the_database(tmp_path):
    study = init_study(tmp_path / "s")
    study.server_dir.mkdir()
    (study.server_dir / "credentials.json").write_bytes(b"\x00garbage{")
    with pytest.raises(PipelineError) as caught:
        read_credentials(study)
    message = str(caught.value)
    assert "do not delete that folder" in message and "are lost" not in message
    assert "keeps every project and annotation" in message


def test_a_pipeline_file_cut_short_is_an_error_naming_it(tmp_path):
    path = tmp_path / "ratings.csv"
    write_csv_atomic(path, pd.DataFrame({"clip_id": ["a", "b", "c"], "notes": ["x", "y", "z"]}),
                     record=True)
    data = path.read_bytes()
    path.write_bytes(data[:-3])  # mid-row
    with pytest.raises(PipelineError, match=r"ratings.csv is damaged \(cut short or edited\): "
                       "row 4 has 1 of the header's 2 fields. Rerun `coding-pipeline pull`"):
        read_table(path, [], "")
    path.write_bytes(data[:data.rindex(b"c,z")])  # at a line end: the row count tells
    with pytest.raises(PipelineError, match="it has 2 rows but 3 were written"):
        read_table(path, [], "")
    pd.read_csv(io.StringIO(data.decode()))  # the whole file is a plain CSV for R and SPSS
