"""Benchmark `coding-pipeline motion` against the FFmpeg command line merely decoding the file.

Makes (or takes) a 1080p 30 fps session with sound, as bench_segment.py does, then times, in
one run and in turn (best of --repeat each):
- ours:   `coding-pipeline motion` on a one-session study with caregiver, child and background
          boxes (decode once, grey, shrink to half size with INTER_AREA, blur, difference,
          changed-pixel shares per box, motion/<session>.csv written);
- FFmpeg: imageio-ffmpeg's bundled `ffmpeg -i FILE -f null -`, which decodes the file and
          does nothing with it: the floor for anything that looks at every frame.
Prints wall seconds, x real time and CPU seconds for each, and our speed over FFmpeg's against
the goal (>= 0.8), and checks the motion file has one row per frame of the video.

    .venv/bin/python scripts/bench_motion.py                  # 120 s generated session
    .venv/bin/python scripts/bench_motion.py --seconds 300
    .venv/bin/python scripts/bench_motion.py --source my_1080p.mp4
    .venv/bin/python scripts/bench_motion.py --quick --check   # seconds; CI

The table of figures and one JSON line per figure come last (see bench_harness.py).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
from bench_harness import Figure, Report, cli_command, interleaved, parse_args

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
    args = parse_args(parser, quick={"seconds": 2.0, "repeat": 1})
    report = Report()
    with tempfile.TemporaryDirectory(prefix="bench-motion-") as folder:
        bench_decode_floor(args, Path(folder), report)
    sys.exit(report.finish(args.check))


def generate(path: Path, args) -> Path:
    started = time.perf_counter()
    write_sample_video(path, args.seconds, fps=30, width=1920, height=1080, seed=7,
                       noise=args.noise, crf=20)
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
