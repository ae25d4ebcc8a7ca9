"""Progress of a segment run on stderr: per session and overall frames, speed and time left."""

from __future__ import annotations

import sys
import threading
import time


class ProgressDisplay:
    """Progress on stderr: per session and overall frames, speed (x real time), time left.

    On a terminal one line is redrawn in place; otherwise a line is printed every 10 s and
    whenever a session ends ("finished", "failed" or "already complete"). Sessions already
    complete are left out of the speed figure.
    """

    def __init__(self, sessions: int, stream=None, clock=time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.sessions = sessions
        self.finished = 0
        # key -> (slots done, slots in all, fps, first report time, last report time)
        self.active: dict[tuple[str, str], tuple[int, int, float, float, float]] = {}
        self.done_seconds = 0.0  # seconds of video in ended sessions
        self.lengths: dict[tuple[str, str], float] = {}  # seconds of video per session seen
        self.clock = clock
        self.started = clock()
        self.last_print = 0.0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.lock = threading.Lock()
        self.ended: set[tuple[str, str]] = set()

    def update(self, key: tuple[str, str], done: int, total: int, fps: float) -> None:
        """A session has reached grid slot `done` of `total`."""
        with self.lock:
            if key in self.ended:
                return
            now = self.clock()
            started = self.active.get(key, (0, 0, 0.0, now, now))[3]
            self.active[key] = (done, total, fps, started, now)
            self.lengths[key] = total / fps
            self._print(now, force=False)

    def finish(self, key: tuple[str, str], status: str = "done") -> None:
        """A session has ended: status "done", "skipped" (already complete) or "failed"."""
        with self.lock:
            self.ended.add(key)
            previous = self.active.pop(key, None)
            if previous is not None:  # a finished session counts whole, a failed one as far
                done, total, fps = previous[:3]  # as it got
                self.done_seconds += (total if status == "done" else done) / fps
            self.finished += 1
            label = {"skipped": "already complete", "failed": "failed"}.get(status, "finished")
            self._print(self.clock(), force=True, ended=(label, key))

    def _print(self, now: float, force: bool,
               ended: tuple[str, tuple[str, str]] | None = None) -> None:
        if not force and (now - self.last_print < (0.5 if self.tty else 10.0)
                          or now - self.started < 1.0):
            return
        self.last_print = now
        parts = []
        for (dyad, timepoint), (done, total, fps, started, updated) in self.active.items():
            if updated - started < 1.0:
                parts.append(f"{dyad}/{timepoint} {done}/{total} frames, starting")
                continue
            speed = done / fps / (updated - started)
            left = (total - done) / fps / speed if speed > 0 else 0.0
            parts.append(f"{dyad}/{timepoint} {done}/{total} frames {speed:.1f}x "
                         f"{_clock(left)} left")
        seconds = self.done_seconds + sum(d / f for d, _, f, _, _ in self.active.values())
        remaining = sum((t - d) / f for d, t, f, _, _ in self.active.values())
        waiting = self.sessions - self.finished - len(self.active)
        if waiting and self.lengths:  # sessions not started yet: guess the mean length
            remaining += waiting * sum(self.lengths.values()) / len(self.lengths)
        speed = seconds / max(now - self.started, 1.0)
        overall = f"{self.finished}/{self.sessions} sessions"
        if seconds >= 1:  # less is no measure of speed yet
            overall += f", {seconds:.0f} s of video at {speed:.1f}x real time"
        if remaining and seconds >= 1:
            overall += f", {'about ' if waiting else ''}{_clock(remaining / speed)} left"
        line = " | ".join(parts + [overall])
        if ended is not None and not self.tty:
            label, (dyad, timepoint) = ended
            line = f"{label} {dyad}/{timepoint}; " + line
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
