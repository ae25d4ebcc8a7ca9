"""The benchmark harness: figures and their ratio, --check's exit status, the table and JSON lines,
--quick defaults, and timing of real child processes."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import pytest
from bench_harness import (
    KEYS,
    Figure,
    Report,
    Stopwatch,
    cli_command,
    interleaved,
    parse_args,
    run,
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def finish(report: Report, check: bool) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    status = report.finish(check, out=out, err=err)
    return status, out.getvalue().splitlines(), err.getvalue()


def test_ratio_is_baseline_over_ours_and_goal_its_least_value():
    slower = Figure("ours slower", ours_s=2.0, baseline_s=1.0, goal=0.9)
    faster = Figure("ours faster", ours_s=1.0, baseline_s=2.0, goal=0.9)
    assert (slower.ratio, slower.met) == (0.5, False)
    assert (faster.ratio, faster.met) == (2.0, True)
    assert Figure("comparison only", 1.0, 3.0).met is None
    assert Figure.within("push", 61.0, 60.0).met is False
    assert Figure.within("push", 59.0, 60.0).met is True
    assert Figure.within("push", 59.0, 60.0).name == "push within 60 s"
    assert Figure.real_time("segment", 40.0, 120.0, goal=3.0).met is True
    assert Figure.real_time("segment", 41.0, 120.0, goal=3.0).met is False


def test_record_has_exactly_the_keys():
    record = Figure("x", ours_s=2.0, baseline_s=1.0, goal=0.9).record()
    assert tuple(record) == KEYS == ("name", "ours_s", "baseline_s", "ratio", "goal", "met")
    assert record == {"name": "x", "ours_s": 2.0, "baseline_s": 1.0, "ratio": 0.5, "goal": 0.9,
                      "met": False}


def test_check_exits_non_zero_when_a_goal_is_missed():
    report = Report([Figure("met", 1.0, 2.0, goal=1.5), Figure("missed", 2.0, 1.0, goal=0.9),
                     Figure("no goal", 5.0, 1.0)])
    status, lines, errors = finish(report, check=True)
    assert status == 1
    assert errors == "missed: missed\n"
    status, _, errors = finish(report, check=False)
    assert (status, errors) == (0, "")


def test_check_passes_when_every_goal_is_met_and_fails_on_a_failed_expectation():
    report = Report([Figure("met", 1.0, 2.0, goal=1.5), Figure("no goal", 5.0, 1.0)])
    assert finish(report, check=True)[0] == 0
    report.expect("same frames out", True)
    assert finish(report, check=True)[0] == 0
    report.expect("nothing dropped", False)
    status, lines, errors = finish(report, check=True)
    assert (status, errors) == (1, "missed: nothing dropped\n")
    assert any(line.startswith("nothing dropped") and line.endswith("NO") for line in lines)


def test_table_first_then_one_json_line_per_figure_last():
    figures = [Figure("cfr: speed", 2.0, 1.0, goal=0.9), Figure("status", 0.5, 1.0)]
    _, lines, _ = finish(Report(figures), check=False)
    records = [json.loads(line) for line in lines[-2:]]
    assert records == [f.record() for f in figures]
    assert not any(line.startswith("{") for line in lines[:-2])
    table = "\n".join(lines[:-2])
    assert "cfr: speed" in table and "NO" in table and ">=0.9" in table


def test_quick_swaps_defaults_but_given_options_win():
    def parser() -> argparse.ArgumentParser:
        made = argparse.ArgumentParser()
        made.add_argument("--seconds", type=float, default=120.0)
        made.add_argument("--repeat", type=int, default=2)
        return made

    quick = {"seconds": 2.0, "repeat": 1}
    full = parse_args(parser(), quick, [])
    assert (full.seconds, full.repeat, full.quick, full.check) == (120.0, 2, False, False)
    small = parse_args(parser(), quick, ["--quick", "--check"])
    assert (small.seconds, small.repeat, small.check) == (2.0, 1, True)
    assert parse_args(parser(), quick, ["--quick", "--seconds", "9"]).seconds == 9.0


def test_run_times_wall_and_cpu_of_children_also_at_once():
    burn = python("import time\nend = time.process_time() + 0.3\n"
                  "while time.process_time() < end: pass")
    alone = run(burn)
    assert alone.cpu_s >= 0.3
    assert alone.wall_s >= 0.3
    both = run(burn, burn)
    assert both.cpu_s >= 0.6


def test_stopwatch_counts_this_process():
    with Stopwatch() as watch:
        total = sum(i * i for i in range(2_000_000))
    assert total > 0
    assert watch.timing.cpu_s > 0
    assert watch.timing.wall_s > 0


def test_run_stops_on_a_failing_command_with_its_error(capsys):
    with pytest.raises(subprocess.CalledProcessError):
        run(python("import sys; sys.exit('broken input')"))
    assert "broken input" in capsys.readouterr().err


def test_interleaved_takes_turns_and_keeps_the_best():
    seen = []
    sleeps = {0: {"ours": 0.3, "baseline": 0.0}, 1: {"ours": 0.0, "baseline": 0.3}}
    best = interleaved(2, lambda number: {
        name: python(f"import time; time.sleep({seconds})")
        for name, seconds in sleeps[number].items()},
        after=lambda name, timing: seen.append((name, timing)))
    assert [name for name, _ in seen] == ["ours", "baseline", "ours", "baseline"]
    for name in ("ours", "baseline"):
        timings = [timing for seen_name, timing in seen if seen_name == name]
        assert best[name] == min(timings, key=lambda timing: timing.wall_s)
    assert seen[0][1].wall_s >= 0.3 and best["ours"] == seen[2][1]


def test_cli_command_runs_the_pipeline_cli_with_this_interpreter():
    command = cli_command("--help")
    assert command[0] == sys.executable
    assert "segment" in subprocess.run(command, capture_output=True, text=True,
                                       check=True).stdout
