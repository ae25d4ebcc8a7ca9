"""Every benchmark script, run end to end with --quick --check as CI does: its JSON lines come last
on stdout, one per figure with exactly the harness's keys, and its exit status says whether every
goal was met (the goals themselves need full runs on a quiet machine, so either status may come)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from bench_harness import KEYS

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run_quick(script: str, *options: str) -> list[dict]:
    """Run `script --quick --check OPTIONS`; check its JSON lines and exit status; the figures."""
    done = subprocess.run([sys.executable, str(SCRIPTS / script), "--quick", "--check", *options],
                          capture_output=True, text=True, timeout=600, cwd=SCRIPTS.parent)
    lines = done.stdout.splitlines()
    count = next((n for n, line in enumerate(reversed(lines)) if not line.startswith("{")),
                 len(lines))
    assert count, f"no JSON lines at the end of stdout:\n{done.stdout}\n{done.stderr[-3000:]}"
    assert not any(line.startswith("{") for line in lines[:-count]), done.stdout
    records = [json.loads(line) for line in lines[-count:]]
    for record in records:
        assert tuple(record) == KEYS, record
        assert isinstance(record["name"], str) and record["name"]
        assert record["ours_s"] > 0 and record["baseline_s"] > 0, record
        assert math.isclose(record["ratio"], record["baseline_s"] / record["ours_s"],
                            rel_tol=1e-2), record
        if record["goal"] is None:
            assert record["met"] is None, record
        elif abs(record["ratio"] - record["goal"]) > 1e-3:
            assert record["met"] == (record["ratio"] >= record["goal"]), record
    missed = [line.removeprefix("missed: ") for line in done.stderr.splitlines()
              if line.startswith("missed: ")]
    assert missed == [r["name"] for r in records if r["met"] is False], done.stderr
    assert done.returncode == (1 if missed else 0), done.stderr[-3000:]
    return records


def names(records: list[dict]) -> list[str]:
    return [record["name"] for record in records]


def test_bench_reliability_quick():
    found = names(run_quick("bench_reliability.py"))
    assert [name.split(":")[0] for name in found] == ["complete 200 clips"] * 2 + [
        "incomplete 200 clips"] * 2
    assert "complete 200 clips: whole reliability run within 20 s" in found
    assert "incomplete 200 clips: reliability CLI, all statistics within 10 s" in found


@pytest.mark.video
@pytest.mark.parametrize(("case", "figures"), [
    ("cfr", ["cfr 2 s 1080p: speed against FFmpeg CLI's best",
             "cfr 2 s 1080p: segment, x real time"]),
    ("vfr", ["vfr 2 s 1080p: speed against FFmpeg -fps_mode cfr"]),
    pytest.param("cluster", ["cluster 4 x 2 s 720p: 2 workers' speed-up over 1",
                             "machine's own scaling: 2 one-thread FFmpeg encodes at once over 1 "
                             "by 1"], marks=pytest.mark.cluster),
])
def test_bench_segment_quick(case, figures):
    assert names(run_quick("bench_segment.py", "--case", case)) == figures


@pytest.mark.video
def test_bench_motion_quick():
    assert names(run_quick("bench_motion.py")) == [
        "2 s 1080p: motion energy speed against FFmpeg decode-only",
        "2 s 1080p: motion energy, x real time",
        "synchrony 6 sessions x 1 min, 20 surrogates: speed-up over np.corrcoef per window and "
        "lag (extrapolated)",
        "synchrony 6 sessions x 1 min, 20 surrogates within 30 s"]


@pytest.mark.labelstudio
def test_bench_labelstudio_quick():
    found = names(run_quick("bench_labelstudio.py"))
    assert found == [
        "push 40 tasks: speed-up over one request per task (extrapolated)",
        "push 40 tasks within 60 s",
        "pull 80 annotations: speed-up over one request per task (extrapolated)",
        "pull 80 annotations within 30 s",
        "status 80 tasks: speed-up over one export per project (counters)",
        "status 80 tasks: speed-up over one export per project (one project with a skip)",
    ]
