"""The progress display of a segment run (segment/progress.py): per session and overall
frames, x real time and time left. A real run's progress: tests/video/test_segment_progress.py."""

from __future__ import annotations

import io

from coding_pipeline.segment import ProgressDisplay


def test_progress_lines_show_frames_speed_and_time_left():
    now = [100.0]
    out = io.StringIO()
    display = ProgressDisplay(2, stream=out, clock=lambda: now[0])
    display.update(("D1", "T1"), 1, 3600, 30.0)  # sessions report their first frame at once
    display.update(("D2", "T1"), 1, 600, 30.0)
    now[0] = 111.0
    display.update(("D1", "T1"), 900, 3600, 30.0)  # 30 s of video in 11 s
    display.update(("D2", "T1"), 300, 600, 30.0)  # within 10 s of the last line: not shown
    now[0] = 122.0
    display.update(("D2", "T1"), 600, 600, 30.0)
    display.finish(("D2", "T1"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0] == ("D1/T1 900/3600 frames 2.7x 0:00:33 left | D2/T1 1/600 frames, "
                        "starting | 0/2 sessions, 30 s of video at 2.7x real time, "
                        "0:00:40 left")
    assert lines[1].startswith("D1/T1 900/3600 frames 2.7x 0:00:33 left | D2/T1 600/600 "
                               "frames 0.9x 0:00:00 left | 0/2 sessions, 50 s of video at 2.3x")
    assert lines[2].startswith("finished D2/T1; D1/T1 900/3600 frames")
    assert lines[2].endswith("1/2 sessions, 50 s of video at 2.3x real time, 0:00:40 left")


def test_time_left_guesses_sessions_not_started_from_those_seen():
    now = [0.0]
    out = io.StringIO()
    display = ProgressDisplay(3, stream=out, clock=lambda: now[0])
    display.update(("D1", "T1"), 1, 1800, 30.0)
    now[0] = 20.0
    display.update(("D1", "T1"), 1200, 1800, 30.0)  # 40 s of video in 20 s: 2x
    # left: 20 s of D1 + 2 sessions of about 60 s = 140 s of video at 2x
    assert out.getvalue().strip().endswith("40 s of video at 2.0x real time, about 0:01:10 left")
