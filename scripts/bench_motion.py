"""Benchmark `coding-pipeline motion` against the FFmpeg command line merely decoding the file,
and movement synchrony with its surrogates against a direct computation of the same numbers.

1. Motion energy. Makes (or takes) a 1080p 30 fps session with sound, as bench_segment.py does,
then times, in one run and in turn (best of --repeat each):
- ours:   `coding-pipeline motion` on a one-session study with caregiver, child and background
          boxes (decode once, grey, shrink to half size with INTER_AREA, blur, difference,
          changed-pixel shares per box, motion/<session>.csv written);
- FFmpeg: imageio-ffmpeg's bundled `ffmpeg -i FILE -f null -`, which decodes the file and
          does nothing with it: the floor for anything that looks at every frame.
Prints wall seconds, x real time and CPU seconds for each, and our speed over FFmpeg's against
the goal (>= 0.8), and checks the motion file has one row per frame of the video.

2. Synchrony. Generates --sessions motion series pairs of --minutes at 30 fps (the child's
motion is the caregiver's 0.5 s later, plus noise as strong), then times
`stats.pseudo_synchrony.study_synchrony` with --surrogates between-dyad surrogates each (goal:
<= 30 s for 200 sessions of 10 minutes and 1,000 surrogates), beside the same correlations
computed directly, window by window and lag by lag with np.corrcoef (the definition that
tests/stats/test_synchrony.py checks ours against; timed on a few pairs and extrapolated).
Checks the 0.5 s lag is found in every session.

    .venv/bin/python scripts/bench_motion.py                  # 120 s generated session
    .venv/bin/python scripts/bench_motion.py --seconds 300
    .venv/bin/python scripts/bench_motion.py --source my_1080p.mp4
    .venv/bin/python scripts/bench_motion.py --part synchrony --sessions 400
    .venv/bin/python scripts/bench_motion.py --quick --check   # seconds; CI

The table of figures and one JSON line per figure come last (see bench_harness.py).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from bench_harness import Figure, Report, Stopwatch, cli_command, interleaved, parse_args

from coding_pipeline.stats.pseudo_synchrony import study_synchrony
from coding_pipeline.stats.synchrony import DEFAULT_SETTINGS, preprocess
from coding_pipeline.study import init_study
from coding_pipeline.video.probe import probe
from coding_pipeline.video.synth import write_sample_video

ROIS = {"caregiver": (0.05, 0.2, 0.4, 0.7), "child": (0.55, 0.2, 0.4, 0.7),
        "background": (0.0, 0.0, 0.6, 0.15)}  # the synthetic flash patch is top right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a session video (default: generate one)")
    parser.add_argument("--seconds", type=float, default=120.0, help="generated length")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (best is shown)")
    parser.add_argument("--noise", type=int, default=6,
                        help="camera-like noise level of the generated picture (0 = clean)")
    parser.add_argument("--part", choices=("all", "energy", "synchrony"), default="all")
    parser.add_argument("--sessions", type=int, default=200, help="synchrony: sessions")
    parser.add_argument("--minutes", type=float, default=10.0, help="synchrony: session length")
    parser.add_argument("--surrogates", type=int, default=1000,
                        help="synchrony: surrogates per session")
    parser.add_argument("--baseline-pairs", type=int, default=4,
                        help="synchrony: pairs the direct computation is timed on")
    args = parse_args(parser, quick={"seconds": 2.0, "repeat": 1, "sessions": 6, "minutes": 1.0,
                                     "surrogates": 20, "baseline_pairs": 2})
    report = Report()
    if args.part in ("all", "energy"):
        with tempfile.TemporaryDirectory(prefix="bench-motion-") as folder:
            bench_decode_floor(args, Path(folder), report)
    if args.part in ("all", "synchrony"):
        bench_synchrony(args, report)
    sys.exit(report.finish(args.check))


def generate(path: Path, args) -> Path:
    started = time.perf_counter()
    write_sample_video(path, args.seconds, fps=30, width=1920, height=1080, seed=7,
                       noise=args.noise, crf=20)
    os.sync()  # its pages reach the disk now, not while the runs are timed
    print(f"generated {path.name}: 1920x1080 30 fps {args.seconds:g} s with sound, noise "
          f"{args.noise} ({time.perf_counter() - started:.1f} s)")
    return path


def bench_decode_floor(args, work: Path, report: Report) -> None:
    """Ours beside `ffmpeg -i FILE -f null -` on the same file."""
    source = args.source or generate(work / "session_1080p.mp4", args)
    info = probe(source)
    seconds = info.duration_s
    print(f"source: {info.width}x{info.height} {float(info.fps):.3f} fps, {seconds:.1f} s, "
          f"{info.video_codec}/{info.audio_codec}")
    best = interleaved(args.repeat, lambda number: {  # in turn: a passing load hits both
        "ours": ours_command(work / f"study{number}", source),  # fresh: a rerun would skip
        "ffmpeg": [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(source), "-f",
                   "null", "-"],
    })
    for label, timing in [("ours    motion (3 boxes, shrunk to half size)", best["ours"]),
                          ("ffmpeg  -i FILE -f null - (decode only)", best["ffmpeg"])]:
        print(f"{label:47s} {timing.wall_s:7.1f} s  {seconds / timing.wall_s:5.2f}x real time  "
              f"(CPU {timing.cpu_s:6.1f} s)")
    print(f"best of {args.repeat} interleaved runs each")
    name = f"{seconds:.0f} s {info.height}p"
    report.add(Figure(f"{name}: motion energy speed against FFmpeg decode-only",
                      best["ours"].wall_s, best["ffmpeg"].wall_s, goal=0.8))
    report.add(Figure.real_time(f"{name}: motion energy", best["ours"].wall_s, seconds,
                                goal=None))
    rows = list(csv.DictReader((work / "study0" / "motion" / "B0_T1.csv").open(
        encoding="utf-8")))
    report.expect(f"one motion row per frame ({len(rows)} rows, {info.frames} frames)",
                  len(rows) == info.frames)


def bench_synchrony(args, report: Report, fps: float = 30.0) -> None:
    """study_synchrony beside np.corrcoef per window and lag, on generated series."""
    rng = np.random.default_rng(11)
    frames = int(args.minutes * 60 * fps)
    delay = int(0.5 * fps)
    sessions = []
    for _ in range(args.sessions):
        caregiver = motion_like(rng, frames + delay)
        child = caregiver[:frames] + motion_like(rng, frames)  # 0.5 s later, noise as strong
        sessions.append((caregiver[delay:], child))
    with Stopwatch() as ours:
        result = study_synchrony(sessions, fps, n_surrogates=args.surrogates, seed=0)
    pairs = args.sessions * (1 + args.surrogates)
    window, step, max_lag = DEFAULT_SETTINGS.samples(fps)
    sample = [(preprocess(a, fps, DEFAULT_SETTINGS), preprocess(b, fps, DEFAULT_SETTINGS))
              for a, b in sessions[:args.baseline_pairs]]
    with Stopwatch() as direct:
        for caregiver, child in sample:
            direct_lagged_r(caregiver, child, window, step, max_lag)
    baseline_s = direct.timing.wall_s / len(sample) * pairs
    print(f"synchrony: {args.sessions} sessions of {args.minutes:g} min at {fps:g} fps, "
          f"{args.surrogates} surrogates each ({pairs:,} pairs): {ours.timing.wall_s:.1f} s "
          f"(CPU {ours.timing.cpu_s:.1f} s); np.corrcoef per window and lag: "
          f"{direct.timing.wall_s / len(sample):.2f} s a pair, {baseline_s:,.0f} s for all "
          f"(timed on {len(sample)} pairs, extrapolated)")
    name = (f"synchrony {args.sessions} sessions x {args.minutes:g} min, "
            f"{args.surrogates} surrogates")
    report.add(Figure(f"{name}: speed-up over np.corrcoef per window and lag (extrapolated)",
                      ours.timing.wall_s, baseline_s, goal=None))
    report.add(Figure.within(name, ours.timing.wall_s, 30.0))
    lags = [session.peak_lag_s for session in result.sessions]
    found = sum(abs(lag - delay / fps) < 0.5 / fps for lag in lags)
    report.expect(f"0.5 s lag found in {found} of {len(lags)} sessions", found == len(lags))


def motion_like(rng: np.random.Generator, frames: int, smooth: int = 9) -> np.ndarray:
    """Non-negative, autocorrelated series shaped like motion energy."""
    noise = rng.normal(size=frames + smooth - 1)
    return np.abs(np.convolve(noise, np.ones(smooth) / smooth, mode="valid"))


def direct_lagged_r(caregiver: np.ndarray, child: np.ndarray, window: int, step: int,
                    max_lag: int) -> np.ndarray:
    """Pearson's r per window and lag by definition (rMEA's spans; complete series here)."""
    span = window + max_lag
    rows = []
    for start in range(0, min(caregiver.size, child.size) - span + 1, step):
        x_span, y_span = caregiver[start:start + span], child[start:start + span]
        rows.append([np.corrcoef(x_span[max(0, -lag):max(0, -lag) + window],
                                 y_span[max(0, lag):max(0, lag) + window])[0, 1]
                     for lag in range(-max_lag, max_lag + 1)])
    return np.array(rows)


def ours_command(folder: Path, source: Path) -> list[str]:
    """`motion` on a fresh study of one session with its boxes (a rerun would skip it)."""
    study = init_study(folder)
    study.sessions_csv.write_text("dyad_id,timepoint,arm,video,start,end\n"
                                  f"B0,T1,,{source.resolve()},,\n", encoding="utf-8")
    boxes = "".join(f"B0,T1,{role},{x},{y},{w},{h}\n" for role, (x, y, w, h) in ROIS.items())
    (study.root / "rois.csv").write_text(f"dyad_id,timepoint,role,x,y,w,h\n{boxes}",
                                         encoding="utf-8")
    return cli_command("motion", str(study.root), "--quiet", "--workers", "1")


if __name__ == "__main__":
    main()
