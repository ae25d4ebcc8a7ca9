"""Epoch planning on the frame grid (pure)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from coding_pipeline.video.plan import PlanError, plan_epochs

NTSC = Fraction(30000, 1001)


def test_ntsc_epochs_follow_the_ceiling_rule():
    epochs = plan_epochs(10 * 60 * 30, NTSC, 60.0)  # 18000 slots = 600.6 s
    bounds = [e.first_frame for e in epochs] + [epochs[-1].end_frame]
    assert bounds[:4] == [0, 1799, 3597, 5395]  # ceil(60 k * 29.97)
    assert epochs[0].start_s == 0 and epochs[1].start_s == pytest.approx(1799 * 1001 / 30000)


@pytest.mark.parametrize("total, fps, epoch, start, end, min_last", [
    (300, Fraction(30), 4.0, None, None, 0.5),
    (18000, NTSC, 60.0, 12.3, None, 0.5),
    (9001, Fraction(25), 7.3, 0.04, 300.0, 0.5),
    (1234, Fraction(24000, 1001), 1.0, None, None, 0.0),
    (5000, Fraction(50), 33.3, 3.33, 99.99, 0.9),
])
def test_epochs_tile_the_window_without_gap_or_overlap(total, fps, epoch, start, end, min_last):
    epochs = plan_epochs(total, fps, epoch, start, end, min_last)
    first = math.ceil(Fraction(str(start or 0)) * fps)
    last = total if end is None else min(math.ceil(Fraction(str(end)) * fps), total)
    assert epochs[0].first_frame == first and epochs[-1].end_frame == last
    for before, after in zip(epochs, epochs[1:], strict=False):
        assert before.end_frame == after.first_frame
    full = epoch * float(fps)
    for e in epochs[:-1]:
        assert abs(e.frames - full) <= 1
    if len(epochs) > 1:
        assert epochs[-1].frames >= min_last * full - 1e-9
    assert [e.index for e in epochs] == list(range(len(epochs)))


def test_short_remainder_joins_the_previous_clip():
    assert [e.frames for e in plan_epochs(300, Fraction(30), 4.0)] == [120, 120, 60]
    assert [e.frames for e in plan_epochs(299, Fraction(30), 4.0)] == [120, 179]
    assert [e.frames for e in plan_epochs(299, Fraction(30), 4.0, min_last_epoch=0)] == [
        120, 120, 59]
    assert [e.frames for e in plan_epochs(50, Fraction(30), 4.0)] == [50]


def test_windows_that_do_not_fit_are_refused():
    with pytest.raises(PlanError, match="beyond the end of the video"):
        plan_epochs(300, Fraction(30), 4.0, start_s=10.0)
    with pytest.raises(PlanError, match="not before end"):
        plan_epochs(300, Fraction(30), 4.0, start_s=5.0, end_s=5.0)
    with pytest.raises(PlanError, match="more than 0"):
        plan_epochs(300, Fraction(30), 0.0)
    assert plan_epochs(300, Fraction(30), 4.0, end_s=99.0)[-1].end_frame == 300
