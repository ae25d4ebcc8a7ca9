"""What every scripts/bench_*.py shares: timing, running the CLI, figures, --quick and --check.

A figure sets our seconds beside a baseline's, measured in the same run. Its ratio is always
baseline_s / ours_s: above 1 we are faster. The baseline is another tool doing the same work, a
time budget (`Figure.within`: "ours <= 60 s" is met when the ratio is >= 1) or the length of the
video (`Figure.real_time`: the ratio is our speed in x real time). A goal is the least ratio that
meets it; a figure without a goal is shown for comparison only (met: null).

Each script prints its own lines as it goes, then `Report.finish` prints the table of figures
and one JSON line per figure (keys `name`, `ours_s`, `baseline_s`, `ratio`, `goal`, `met`) as the
last lines of stdout. With --check a missed goal (or a failed expectation such as "same frames
out") makes the script exit 1; --quick swaps the script's defaults for small inputs that run in
seconds (its figures then say nothing about speed; explicit options still win).

The scripts import this module as a sibling (`import bench_harness`): Python puts a script's own
folder first on sys.path.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

KEYS = ("name", "ours_s", "baseline_s", "ratio", "goal", "met")


@dataclass(frozen=True)
class Timing:
    """Wall seconds and CPU seconds (user + system) of one measured piece of work."""

    wall_s: float
    cpu_s: float


class Stopwatch:
    """Times a with-block: wall seconds and the CPU seconds of this process and of its children
    that ended (and were waited for) inside the block."""

    def __enter__(self) -> Stopwatch:
        self._cpu = _cpu_seconds()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.timing = Timing(time.perf_counter() - self._started, _cpu_seconds() - self._cpu)


def _cpu_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def run(*commands: list[str]) -> Timing:
    """Run the commands at once as child processes (stdout discarded) and time them until the
    last one ends; a failing command stops the benchmark with its error output."""
    with contextlib.ExitStack() as files:
        errors = [files.enter_context(tempfile.TemporaryFile()) for _ in commands]
        with Stopwatch() as watch:
            processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=error)
                         for command, error in zip(commands, errors, strict=True)]
            codes = [process.wait() for process in processes]
        for command, code, error in zip(commands, codes, errors, strict=True):
            if code:
                error.seek(0)
                sys.stderr.write(error.read().decode(errors="replace"))
                raise subprocess.CalledProcessError(code, command)
    return watch.timing


def interleaved(repeat: int, commands_of_run: Callable[[int], dict[str, list[str]]],
                after: Callable[[str, Timing], None] | None = None) -> dict[str, Timing]:
    """Best (least wall) timing of each named command over `repeat` runs, the commands taking
    turns within each run so that a passing load hits ours and the baseline alike.
    `commands_of_run(run)` gives that run's commands (e.g. in a fresh folder); `after(name,
    timing)`, if given, is called after each command."""
    best: dict[str, Timing] = {}
    for number in range(repeat):
        for name, command in commands_of_run(number).items():
            timing = run(command)
            if after:
                after(name, timing)
            if name not in best or timing.wall_s < best[name].wall_s:
                best[name] = timing
    return best


def cli_command(*arguments: str) -> list[str]:
    """`coding-pipeline ARGUMENTS` run by this very interpreter (and its sys.path)."""
    return [sys.executable, "-c", "from coding_pipeline.cli import main; main()", *arguments]


@dataclass(frozen=True)
class Figure:
    """Our seconds beside a baseline's; see the module docstring for ratio and goal."""

    name: str
    ours_s: float
    baseline_s: float
    goal: float | None = None

    @classmethod
    def within(cls, name: str, ours_s: float, budget_s: float) -> Figure:
        """Ours against a time budget: met when ours_s <= budget_s."""
        return cls(f"{name} within {budget_s:g} s", ours_s, budget_s, goal=1.0)

    @classmethod
    def real_time(cls, name: str, ours_s: float, media_s: float, goal: float) -> Figure:
        """Ours against the media's own length: the ratio is our speed in x real time."""
        return cls(f"{name}, x real time", ours_s, media_s, goal)

    @property
    def ratio(self) -> float:
        return self.baseline_s / self.ours_s

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.ratio >= self.goal

    def record(self) -> dict[str, Any]:
        """The figure's JSON line, as a dict with exactly the keys of KEYS."""
        return {"name": self.name, "ours_s": round(self.ours_s, 4),
                "baseline_s": round(self.baseline_s, 4), "ratio": round(self.ratio, 4),
                "goal": self.goal, "met": self.met}


@dataclass
class Report:
    """The figures (and yes/no expectations) of one benchmark run."""

    figures: list[Figure] = field(default_factory=list)
    expectations: list[tuple[str, bool]] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)

    def expect(self, name: str, ok: bool) -> None:
        """A condition the run must hold besides its speed, e.g. "same frames out"."""
        self.expectations.append((name, ok))

    def missed(self) -> list[str]:
        """Names of the goals missed and of the expectations that failed."""
        return ([f.name for f in self.figures if f.met is False]
                + [name for name, ok in self.expectations if not ok])

    def finish(self, check: bool, out: TextIO | None = None, err: TextIO | None = None) -> int:
        """Print the table and the JSON lines; the exit status: 1 if `check` and any missed."""
        out, err = out or sys.stdout, err or sys.stderr
        _note_load(out)
        width = max([len(f.name) for f in self.figures] + [len(n) for n, _ in self.expectations]
                    + [6])
        out.write(f"{'figure':{width}s} {'ours s':>9s} {'baseline s':>10s} {'ratio':>7s} "
                  f"{'goal':>7s}  met\n")
        for f in self.figures:
            goal = "-" if f.goal is None else f">={f.goal:g}"
            met = {None: "-", True: "yes", False: "NO"}[f.met]
            out.write(f"{f.name:{width}s} {f.ours_s:9.2f} {f.baseline_s:10.2f} {f.ratio:7.2f} "
                      f"{goal:>7s}  {met}\n")
        for name, ok in self.expectations:
            out.write(f"{name:{width}s} {'':37s}  {'yes' if ok else 'NO'}\n")
        out.write("(ratio = baseline / ours: above 1 ours is faster; goal = least ratio)\n")
        for f in self.figures:
            out.write(json.dumps(f.record()) + "\n")
        out.flush()
        missed = self.missed()
        if check and missed:
            err.write("".join(f"missed: {name}\n" for name in missed))
            return 1
        return 0


def _note_load(out: TextIO) -> None:
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores + 0.5:
        out.write(f"note: load average {load:.1f} on {cores} cores: other work was running, so "
                  "wall times are inflated; CPU seconds compare better\n")


def parse_args(parser: argparse.ArgumentParser, quick: dict[str, Any],
               argv: list[str] | None = None) -> argparse.Namespace:
    """Add --quick and --check to the script's parser and parse; with --quick the defaults in
    `quick` replace the parser's own (options given on the command line still win)."""
    parser.add_argument("--quick", action="store_true",
                        help="small inputs that run in seconds (figures say nothing of speed)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a goal is missed")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**quick)
    return parser.parse_args(argv)
