"""Benchmark `coding-pipeline segment` against the FFmpeg command line doing the same encode.

Case `cfr` (default): makes (or takes) a 1080p 30 fps session with sound, then times, in one run:
- ours:   `coding-pipeline segment` on a one-session study (decode once, all clips, 720p);
- FFmpeg: imageio-ffmpeg's bundled `ffmpeg` encoding the same file in one pass with the same
          settings (scale to 720p, libx264 veryfast crf 23 High yuv420p, AAC 128k, faststart),
          once with its default x264 threading (frame threads) and once with sliced threads,
          which is what our clips use (measured faster in process on 2 cores).
Prints wall seconds, x real time and CPU seconds for each, our speed over FFmpeg's best
against the goal (>= 0.9), and our peak memory.

Case `vfr`: a phone-like variable-rate 1080p source (30 fps with 1 frame in 5 missing at random,
mean 24 fps); ours beside `ffmpeg -fps_mode cfr -r 30` (the source's full rate) with the same
encode, and the frames each made (the same number: nothing dropped).

Case `cluster`: 4 sessions on a local Dask cluster (`dask scheduler` and `dask worker
--nthreads 1` processes on loopback) with 1 and then 2 workers, --repeat times in turn; prints
the best of each and the speed-up, beside the machine's own scaling: two one-thread FFmpeg CLI
encodes at once against one alone (shared caches and memory, or a busy host, cap both).

    .venv/bin/python scripts/bench_segment.py                 # 120 s generated session
    .venv/bin/python scripts/bench_segment.py --seconds 300
    .venv/bin/python scripts/bench_segment.py --source my_1080p.mp4 --epoch 30
    .venv/bin/python scripts/bench_segment.py --case vfr --seconds 60
    .venv/bin/python scripts/bench_segment.py --case cluster --seconds 30
    .venv/bin/python scripts/bench_segment.py --case all
    .venv/bin/python scripts/bench_segment.py --case all --quick --check   # seconds; CI

The table of figures and one JSON line per figure come last (see bench_harness.py).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import distributed
import imageio_ffmpeg
from bench_harness import Figure, Report, Timing, cli_command, interleaved, parse_args, run

from coding_pipeline.study import init_study
from coding_pipeline.video.probe import probe
from coding_pipeline.video.synth import write_sample_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["cfr", "vfr", "cluster", "all"], default="cfr",
                        help="what to measure (see above)")
    parser.add_argument("--source", type=Path, help="a session video (default: generate one)")
    parser.add_argument("--seconds", type=float, default=120.0, help="generated length")
    parser.add_argument("--epoch", type=float, default=60.0, help="clip length in seconds")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (best is shown)")
    parser.add_argument("--noise", type=int, default=6,
                        help="camera-like noise level of the generated picture (0 = clean)")
    parser.add_argument("--pin", action="store_true",
                        help="cluster: pin each worker to a core of its own (one machine each)")
    args = parse_args(parser, quick={"seconds": 2.0, "epoch": 1.0, "repeat": 1})
    cases = ["cfr", "vfr", "cluster"] if args.case == "all" else [args.case]
    report = Report()
    with tempfile.TemporaryDirectory(prefix="bench-segment-") as folder:
        for case in cases:
            work = Path(folder) / case
            work.mkdir()
            {"cfr": bench_cfr, "vfr": bench_vfr, "cluster": bench_cluster}[case](args, work,
                                                                                  report)
    sys.exit(report.finish(args.check))


def generate(path: Path, args, **options) -> Path:
    started = time.perf_counter()
    write_sample_video(path, args.seconds, fps=30, width=1920, height=1080, seed=7,
                       noise=args.noise, crf=20, **options)
    kind = "variable-rate (30 fps, 1 frame in 5 missing)" if "frame_times" in options else "30 fps"
    print(f"generated {path.name}: 1920x1080 {kind} {args.seconds:g} s with sound, "
          f"noise {args.noise} ({time.perf_counter() - started:.1f} s)")
    return path


def bench_cfr(args, work: Path, report: Report) -> None:
    """Ours beside FFmpeg's one-pass encode of the same constant-rate source."""
    source = args.source or generate(work / "session_1080p.mp4", args)
    info = probe(source)
    seconds = info.duration_s
    print(f"source: {info.width}x{info.height} {float(info.fps):.3f} fps, {seconds:.1f} s, "
          f"{info.video_codec}/{info.audio_codec}")
    ours_peak_mb: list[float] = []

    def note_memory(name: str, _timing: Timing) -> None:
        if name == "ours" and not ours_peak_mb:  # ours runs first: the children's peak is ours
            ours_peak_mb.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)

    best = interleaved(args.repeat, lambda number: {  # best of N: robust to passing load
        # ours in a fresh study each time: a rerun would skip the session
        "ours": ours_command(work / f"study{number}", [source], args.epoch),
        "frame": ffmpeg_command(work, source, []),
        "sliced": ffmpeg_command(work, source, ["-x264-params", "sliced-threads=1"]),
    }, after=note_memory)
    rows = [
        (f"ours    segment, {args.epoch:g} s epochs, 720p out", best["ours"]),
        ("ffmpeg  one pass, same encode, frame threads", best["frame"]),
        ("ffmpeg  one pass, same encode, sliced threads", best["sliced"]),
    ]
    for label, timing in rows:
        print(f"{label:47s} {timing.wall_s:7.1f} s  {seconds / timing.wall_s:5.2f}x real time  "
              f"(CPU {timing.cpu_s:6.1f} s)")
    print(f"best of {args.repeat} interleaved runs each; our peak memory {ours_peak_mb[0]:.0f} MB")
    ours = best["ours"].wall_s
    theirs = min(best["frame"].wall_s, best["sliced"].wall_s)
    name = f"cfr {seconds:.0f} s {info.height}p"
    report.add(Figure(f"{name}: speed against FFmpeg CLI's best", ours, theirs, goal=0.9))
    report.add(Figure.real_time(f"{name}: segment", ours, seconds, goal=3.0))


def bench_vfr(args, work: Path, report: Report) -> None:
    """Ours beside `ffmpeg -fps_mode cfr -r <full rate>` on a phone-like variable-rate file."""
    rng = random.Random(5)
    kept = [i for i in range(round(args.seconds * 30)) if i % 30 == 0 or rng.random() > 0.2]
    source = args.source or generate(work / "phone_vfr.mp4", args,
                                     frame_times=[i / 30 for i in kept])
    info = probe(source)
    rate = f"{info.fps.numerator}/{info.fps.denominator}"
    print(f"source: {info.width}x{info.height}, mean {info.mean_fps:.2f} fps, full rate "
          f"{float(info.fps):g} fps, {info.duration_s:.1f} s")
    best = interleaved(args.repeat, lambda number: {
        "ours": ours_command(work / f"study{number}", [source], args.epoch),
        "ffmpeg": ffmpeg_command(work, source, ["-fps_mode", "cfr", "-r", rate]),
    })
    ours_frames = sum(int(row["frames"]) for row in csv.DictReader(
        (work / "study0" / "clips.csv").open(encoding="utf-8")))
    with av.open(str(work / "ffmpeg_out.mp4")) as output:
        ffmpeg_frames = output.streams.video[0].frames
    for label, timing, frames in [
            (f"ours    segment, {args.epoch:g} s epochs, 720p out", best["ours"], ours_frames),
            (f"ffmpeg  -fps_mode cfr -r {rate}, same encode", best["ffmpeg"], ffmpeg_frames)]:
        print(f"{label:47s} {timing.wall_s:7.1f} s  {info.duration_s / timing.wall_s:5.2f}x "
              f"real time  (CPU {timing.cpu_s:6.1f} s)  {frames} frames out")
    print(f"best of {args.repeat} interleaved runs each")
    name = f"vfr {info.duration_s:.0f} s {info.height}p"
    report.add(Figure(f"{name}: speed against FFmpeg -fps_mode cfr", best["ours"].wall_s,
                      best["ffmpeg"].wall_s, goal=0.9))
    report.expect(f"vfr: same frames out as FFmpeg ({ours_frames} and {ffmpeg_frames})",
                  abs(ours_frames - ffmpeg_frames) <= 1)


def bench_cluster(args, work: Path, report: Report) -> None:
    """4 sessions on a local Dask cluster of 1, then 2 workers."""
    seconds = min(args.seconds, 30.0)
    sources = []
    started = time.perf_counter()
    for i in range(4):
        sources.append(work / f"session{i}.mp4")
        write_sample_video(sources[-1], seconds, fps=30, width=1280, height=720, seed=i,
                           noise=args.noise, crf=20)
    print(f"generated 4 sessions: 1280x720 30 fps {seconds:g} s each "
          f"({time.perf_counter() - started:.1f} s)")
    walls: dict[int, float] = {}
    pinned = " (each worker pinned to its own core, standing for one machine)" if args.pin else ""
    for number in range(args.repeat):  # 1 and 2 workers in turn: drifts of the machine cancel
        for count in (1, 2):
            with local_cluster(work / f"cluster{count}-{number}", count, args.pin) as address:
                command = ours_command(work / f"cluster_study{count}-{number}", sources,
                                       args.epoch, ["--scheduler", address])
                wall = run(command).wall_s
            walls[count] = min(wall, walls.get(count, wall))
    for count in (1, 2):
        print(f"ours    segment --scheduler, {count} worker{'s' if count > 1 else ' '}"
              f"{'':16s} {walls[count]:7.1f} s  {4 * seconds / walls[count]:5.2f}x real time"
              f"  (best of {args.repeat})")
    report.add(Figure(f"cluster 4 x {seconds:g} s 720p: 2 workers' speed-up over 1{pinned}",
                      walls[2], walls[1], goal=1.8))
    alone, together = machine_scaling(work, sources[:2], args.repeat)
    report.add(Figure("machine's own scaling: 2 one-thread FFmpeg encodes at once over 1 by 1",
                      together, 2 * alone))


def machine_scaling(work: Path, sources: list[Path], repeat: int) -> tuple[float, float]:
    """Best seconds of one one-thread FFmpeg encode alone, and of two of them at once."""
    def command(index: int) -> list[str]:
        folder = work / f"ceiling{index}"
        folder.mkdir(exist_ok=True)
        line = ffmpeg_command(folder, sources[index], ["-threads", "1"])
        at = line.index("-i")
        return line[:at] + ["-threads", "1", "-filter_threads", "1"] + line[at:]  # decode too

    alone = together = float("inf")
    for _ in range(repeat):  # in turn, as above
        alone = min(alone, run(command(0)).wall_s)
        together = min(together, run(command(0), command(1)).wall_s)
    return alone, together


@contextmanager
def local_cluster(folder: Path, workers: int, pin: bool = False) -> Iterator[str]:
    """A scheduler and `workers` single-thread workers on loopback, as child processes; with
    `pin`, worker i (and the encoder threads it starts) runs on core i only, as if each worker
    were a machine of its own (FFmpeg and x264 size their threads to the cores allowed)."""
    folder.mkdir()
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).with_name("dask"))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": folder}
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], **quiet)]
    try:
        cores = sorted(os.sched_getaffinity(0))
        processes += [subprocess.Popen(
            [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
             "--local-directory", str(folder / f"w{i}")], **quiet,
            preexec_fn=_pinned_to(cores[i % len(cores)]) if pin else None)
            for i in range(workers)]
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait()


def _pinned_to(core: int):
    """A preexec_fn that keeps the child process (and its threads) on one core."""
    return lambda: os.sched_setaffinity(0, {core})


def ours_command(folder: Path, sources: list[Path], epoch: float,
                 extra: list[str] | None = None) -> list[str]:
    """`segment` on a fresh study of one session per source (a rerun would skip them)."""
    study = init_study(folder, epoch_seconds=epoch)
    rows = "".join(f"B{i},T1,,{source.resolve()},,\n" for i, source in enumerate(sources))
    study.sessions_csv.write_text(f"dyad_id,timepoint,arm,video,start,end\n{rows}",
                                  encoding="utf-8")
    return cli_command("segment", str(study.root), "--quiet", *(extra or ["--workers", "1"]))


def ffmpeg_command(work: Path, source: Path, extra: list[str]) -> list[str]:
    return [
        imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(source),
        "-vf", "scale=-2:720:flags=bicubic,format=yuv420p", "-c:v", "libx264", *extra,
        "-preset", "veryfast", "-crf", "23", "-profile:v", "high",
        "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-movflags", "+faststart",
        str(work / "ffmpeg_out.mp4"),
    ]


if __name__ == "__main__":
    main()
