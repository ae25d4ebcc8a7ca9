"""The `transcripts` stage and command: interviews.csv -> transcripts.csv + transcripts/*.json."""

import csv
import json

import pytest
from click.testing import CliRunner

from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.study import init_study, key_history, load_study, read_transcript_key
from coding_pipeline.transcripts import synth
from coding_pipeline.transcripts.stage import transcripts_study

# dyad -> (file, markers, encoding, questions left out, extra question after)
CASES = {
    "D001": ("D001_T1.docx", "prefix", "", (), None),
    "D002": ("D002_T1.txt", None, "utf-16", ("anger",), None),
    "D003": ("D003_T1.vtt", "inline", "utf-8", (), "joy"),
    "D004": ("D004_T1.srt", None, "utf-8", (), None),
    "D005": ("D005_T1.txt", "heading", "latin-1", (), None),
}
FAMILIES = {dyad: synth.family(n) for n, dyad in enumerate(CASES)}


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _study(tmp_path, cases=CASES, redact=True):
    study = init_study(tmp_path / "study")
    (study.root / "raw").mkdir()
    rows, rules = [], []
    for dyad, (name, markers, encoding, skip, extra) in cases.items():
        lines = synth.interview(FAMILIES[dyad], skip=skip, extra_after=extra)
        synth.write_transcript(study.root / "raw" / name, lines, markers=markers,
                               encoding=encoding or "utf-8", header=f"Family {dyad}, 2026")
        rows.append({"dyad_id": dyad, "timepoint": "baseline", "arm": "MIO",
                     "transcript": f"raw/{name}"})
        rules += [r for r in synth.redact_rows(FAMILIES[dyad], dyad) if r not in rules]
    _write_csv(study.interviews_csv, rows)
    if redact:
        _write_csv(study.redact_csv, rules)
    return study


def _documents(study):
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in study.transcripts_dir.glob("*.json")}


def test_every_format_is_split_redacted_and_keyed_without_naming_the_family(tmp_path):
    study = _study(tmp_path)
    report = transcripts_study(study)
    assert report.problems == [] and report.key_written
    by_dyad = {r.dyad_id: r for r in report.results}
    assert by_dyad["D002"].by_status["missing"] == ["anger"]
    assert by_dyad["D003"].extras == 1
    for dyad in ("D001", "D003", "D004", "D005"):
        assert by_dyad[dyad].by_status["missing"] == [], dyad
        assert len(by_dyad[dyad].by_status["found"]) >= 14, dyad
    assert all(not r.leaks for r in report.results)
    key = read_transcript_key(study)
    assert sorted(key["dyad_id"]) == sorted(CASES) and set(key["interview"]) == {"PDI"}
    documents = _documents(study)
    assert set(documents) == set(key["transcript_id"])
    for _, row in key.iterrows():
        text = json.dumps(documents[row["transcript_id"]], ensure_ascii=False)
        family = FAMILIES[row["dyad_id"]]
        for word in (row["dyad_id"], "MIO", "baseline", "raw/", "T1", "Family", family.child,
                     family.partner, family.clinician, family.town, family.program):
            assert word not in text, (row["dyad_id"], word)
        assert "[CHILD]" in text and "[PROGRAM]" in text
    question = documents[by_dyad["D001"].transcript_id]["questions"][3]
    assert (question["id"], question["demand"], question["status"], question["how"]) == (
        "clicked", True, "found", "marker")
    turns = documents[by_dyad["D001"].transcript_id]["turns"]
    assert set(turns[0]) == {"turn", "speaker", "text"}
    assert {t["speaker"] for t in turns} == {"interviewer", "parent"}
    assert study.transcript_corrections_csv.read_text() == "transcript_id,question,first_turn\n"


def test_a_rerun_writes_nothing_and_keeps_every_id(tmp_path):
    study = _study(tmp_path)
    first = transcripts_study(study)
    files = sorted(study.transcripts_dir.glob("*.json")) + [study.transcripts_csv]
    stamps = [path.stat().st_mtime_ns for path in files]
    copies = key_history(study.root, "transcripts.csv")
    second = transcripts_study(study)
    assert [r.transcript_id for r in second.results] == [r.transcript_id for r in first.results]
    assert not second.key_written and not any(r.written or r.new for r in second.results)
    assert [path.stat().st_mtime_ns for path in files] == stamps
    assert key_history(study.root, "transcripts.csv") == copies


def test_an_interview_removed_from_the_sheet_keeps_its_row_and_id(tmp_path):
    study = _study(tmp_path)
    first = {r.dyad_id: r.transcript_id for r in transcripts_study(study).results}
    with open(study.interviews_csv, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    _write_csv(study.interviews_csv, [r for r in rows if r["dyad_id"] != "D003"])
    report = transcripts_study(study)
    assert report.kept == [first["D003"]] and not report.key_written
    key = read_transcript_key(study)
    assert dict(zip(key["dyad_id"], key["transcript_id"], strict=True)) == first


def test_a_changed_source_is_reported_until_reread(tmp_path):
    study = _study(tmp_path)
    first = {r.dyad_id: r.transcript_id for r in transcripts_study(study).results}
    path = study.root / "raw" / "D004_T1.srt"
    document = study.transcripts_dir / f"{first['D004']}.json"
    before = document.read_text(encoding="utf-8")
    lines = synth.interview(FAMILIES["D004"], skip=("pain",))
    synth.write_transcript(path, lines)
    report = transcripts_study(study)
    assert len(report.problems) == 1 and str(path) in report.problems[0]
    assert "--reread D004:baseline" in report.problems[0]
    assert document.read_text(encoding="utf-8") == before
    assert "D004" not in {r.dyad_id for r in report.results}
    reread = transcripts_study(study, reread=["D004:baseline"])
    assert reread.problems == [] and reread.key_written
    result = next(r for r in reread.results if r.dyad_id == "D004")
    assert result.transcript_id == first["D004"] and result.by_status["missing"] == ["pain"]
    assert document.read_text(encoding="utf-8") != before
    with pytest.raises(PipelineError, match="--reread D9:x: no interview"):
        transcripts_study(study, reread=["D9:x"])


def test_a_damaged_or_deleted_key_is_refused_with_its_copy(tmp_path):
    study = _study(tmp_path)
    transcripts_study(study)
    lines = study.transcripts_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    study.transcripts_csv.write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"lists 4 transcripts but 1 more .* `cp "):
        transcripts_study(study)
    study.transcripts_csv.unlink()
    with pytest.raises(PipelineError, match="transcripts.csv is missing, but its last copy "
                                            "lists 5 transcripts"):
        transcripts_study(study)


def test_corrections_are_honoured_on_every_rerun_and_never_rewritten(tmp_path):
    study = _study(tmp_path)
    ids = {r.dyad_id: r.transcript_id for r in transcripts_study(study).results}
    text = ("transcript_id,question,first_turn\n"
            f"{ids['D004']},anger,missing\n{ids['D004']},joy,3\n")
    study.transcript_corrections_csv.write_text(text, encoding="utf-8")
    for _ in range(2):
        report = transcripts_study(study)
        result = next(r for r in report.results if r.dyad_id == "D004")
        assert "anger" in result.by_status["missing"]
        joy = next(q for q in _documents(study)[ids["D004"]]["questions"] if q["id"] == "joy")
        assert (joy["first_turn"], joy["how"]) == (3, "corrected")
        assert study.transcript_corrections_csv.read_text(encoding="utf-8") == text


def test_review_lists_the_names_left_and_a_leak_is_reported(tmp_path):
    study = _study(tmp_path, {"D001": CASES["D001"], "D002": CASES["D002"]})
    path = study.root / "raw" / "D002_T1.txt"
    path.write_text(path.read_text(encoding="utf-16") + "P: My file number is D002.\n",
                    encoding="utf-16")
    result = CliRunner().invoke(cli, ["transcripts", str(study.root), "--review"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    family = FAMILIES["D001"]
    assert f"{family.relative} x1, turn 10:" in result.output
    assert f"{family.relative_place} x1" in result.output
    assert "still in the text after redaction: D002" in result.output
    assert "`push` will refuse them" in result.output
    assert "(D001 baseline PDI, new): 16 found" in result.output
    assert "(D002 baseline PDI, new): 15 found; missing: anger" in result.output


def test_the_command_explains_bad_input_without_a_traceback(tmp_path):
    runner = CliRunner()
    study = init_study(tmp_path / "empty")
    result = runner.invoke(cli, ["transcripts", str(study.root)])
    assert result.exit_code == 1 and "interviews.csv not found" in result.output
    study = _study(tmp_path, {"D001": CASES["D001"]}, redact=False)
    result = runner.invoke(cli, ["transcripts", str(study.root)])
    assert result.exit_code == 0 and "redact.csv not found: nothing was de-identified" in (
        result.output)
    study.redact_csv.write_text("dyad_id,term,replacement\nD001,Z,[X]\n", encoding="utf-8")
    result = runner.invoke(cli, ["transcripts", str(study.root)])
    assert result.exit_code == 1 and "redact.csv, row 2: term 'Z' is too short" in result.output
    study.redact_csv.unlink()
    study.transcript_corrections_csv.write_text(
        "transcript_id,question,first_turn\nt000000000000,nope,3\n", encoding="utf-8")
    result = runner.invoke(cli, ["transcripts", str(study.root)])
    assert result.exit_code == 1 and "'nope' is not a question of the scheme" in result.output
    study.transcript_corrections_csv.unlink()
    (study.root / "raw" / "notes.pdf").write_bytes(b"%PDF-1.4")
    with open(study.interviews_csv, "a", encoding="utf-8") as handle:
        handle.write("D002,baseline,MIO,raw/notes.pdf\n")
    result = runner.invoke(cli, ["transcripts", str(study.root), "--reread", "D001"])
    assert result.exit_code == 1 and "--reread D001: no interview" in result.output
    result = runner.invoke(cli, ["transcripts", str(study.root)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "interviews.csv row 3 (raw/notes.pdf):" in result.output
    assert ".docx, .txt, .vtt or .srt" in result.output
    assert "(D001 baseline PDI, unchanged)" in result.output
    assert load_study(study.root).config.interview_scheme == "pdi-rf.yaml"
