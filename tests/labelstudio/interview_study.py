"""A study of generated interviews on its OWN server, for the interview tests: mothers with
two interviews each (one .docx), read by the `transcripts` stage, coders signed up through
their own invite links, an interview batch pushed."""

from __future__ import annotations

import csv
import secrets
from pathlib import Path

from click.testing import CliRunner

from coding_pipeline.cli import cli
from coding_pipeline.labelstudio.coders import coder_session
from coding_pipeline.labelstudio.server import read_credentials
from coding_pipeline.study import init_study, load_study
from coding_pipeline.transcripts import synth
from coding_pipeline.transcripts.stage import transcripts_study

DYADS = {"FAMQZ1": 0, "FAMQZ2": 1, "FAMQZ3": 2}
TIMEPOINTS = ("TPQZA", "TPQZB")


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_interviews(root: Path):
    """A study at `root` whose interviews are read and de-identified (every name redacted)."""
    study = init_study(root, name="interviews test", epoch_seconds=2.0)
    (study.root / "raw").mkdir()
    rows, rules = [], []
    for dyad, seed in DYADS.items():
        fam = synth.family(seed)
        for number, timepoint in enumerate(TIMEPOINTS):
            name = f"SRCQZ{dyad}{timepoint}" + (".docx" if seed == number == 0 else ".txt")
            lines = synth.interview(fam, seed=seed * 10 + number,
                                    skip=("guilt",) if (seed, number) == (1, 1) else ())
            synth.write_transcript(study.root / "raw" / name, lines, markers="prefix")
            rows.append({"dyad_id": dyad, "timepoint": timepoint, "arm": "ARMQZ",
                         "transcript": f"raw/{name}"})
        rules += [r for r in synth.redact_rows(fam, dyad) if r not in rules]
        rules += [{"dyad_id": dyad, "term": fam.relative, "replacement": "[RELATIVE]"},
                  {"dyad_id": dyad, "term": fam.relative_place, "replacement": "[PLACE]"}]
    _write_csv(study.interviews_csv, rows)
    _write_csv(study.redact_csv, rules)
    report = transcripts_study(study)
    assert report.problems == [] and not any(r.leaks for r in report.results), report
    return load_study(root)


def sign_up(study, emails: list[str]) -> tuple[dict, dict]:
    """Each coder signs up through their own invite link: sessions and passwords by email."""
    credentials = read_credentials(study)
    sessions, passwords = {}, {}
    for email in emails:
        invited = CliRunner().invoke(cli, ["coders", "invite", str(study.root), email])
        assert invited.exit_code == 0, invited.output
        passwords[email] = "Pw-" + secrets.token_urlsafe(12)
        sessions[email] = coder_session(credentials.url, email, passwords[email],
                                        invite=invited.output.strip())
    return sessions, passwords
