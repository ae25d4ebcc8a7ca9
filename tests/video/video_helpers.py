"""Helpers for the video tests: a clip reader that sees and hears what a coder would."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from coding_pipeline.study import init_study
from coding_pipeline.video.synth import is_flash, read_index


@dataclass
class DecodedClip:
    """What a coder would see and hear in a clip."""

    path: Path
    indices: list[int]  # source frame index shown in each frame, in order
    flash_times: list[float]  # seconds from the clip's start of frames showing the flash
    beep_times: list[float]  # seconds from the clip's start at which a beep begins
    video_codec: str
    profile: str
    level: int
    pix_fmt: str
    width: int
    height: int
    fps: Fraction
    frame_times: list[float]
    video_seconds: float
    audio_codec: str | None
    audio_seconds: float | None
    moov_first: bool
    rotation: int


def decode_clip(path: Path, unrotate: int = 0) -> DecodedClip:
    """Decode a clip fully; `unrotate` turns pictures back (k x 90 degrees clockwise)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        indices, flashes, times = [], [], []
        rotation = 0
        for frame in container.decode(video):
            picture = frame.to_ndarray(format="rgb24")
            if unrotate:
                picture = np.rot90(picture, k=-unrotate)
            indices.append(read_index(picture))
            times.append(float(frame.pts * video.time_base))
            if is_flash(picture):
                flashes.append(times[-1])
            rotation = frame.rotation or 0
        context = video.codec_context
        audio_codec = audio_seconds = None
        beeps: list[float] = []
        if container.streams.audio:
            audio_codec, audio_seconds, beeps = _audio(path)
        video_seconds = float(video.duration * video.time_base)
    head = path.read_bytes()[:4096]
    return DecodedClip(
        path=path, indices=indices, flash_times=flashes, beep_times=beeps,
        video_codec=context.name, profile=context.profile, level=context.level,
        pix_fmt=context.pix_fmt, width=context.width, height=context.height,
        fps=video.average_rate, frame_times=times, video_seconds=video_seconds,
        audio_codec=audio_codec, audio_seconds=audio_seconds,
        moov_first=0 <= head.find(b"moov") < max(head.find(b"mdat"), 0) or (
            b"moov" in head and b"mdat" not in head),
        rotation=int(rotation),
    )


def _audio(path: Path) -> tuple[str, float, list[float]]:
    """Audio codec, decoded length and beep onsets (a loud 2 kHz tone) in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().mean(axis=0) for frame in container.decode(stream)]
        rate = stream.codec_context.sample_rate
        name = stream.codec_context.name
    samples = np.concatenate(chunks) if chunks else np.zeros(0)
    loud = np.abs(samples) > 0.4
    onsets = []
    last = -rate
    for index in np.flatnonzero(loud):
        if index - last > rate // 10:
            onsets.append(index / rate)
        last = index
    return name, len(samples) / rate, onsets


def check_full_rate(study, clips, times: list[float] | dict[int, float], fps: Fraction,
                    flashes: int, stray_beeps: int = 0) -> list[int]:
    """Every source frame shown, in order, first within one frame of its time; the rest of
    the slots repeat the frame before; each flash comes with its beep within one frame.

    `times` gives each source frame's time (seconds from the session's first frame), by index;
    `stray_beeps` beeps may sound without a flash (sound of frames that are not there).
    """
    if not isinstance(times, dict):
        times = dict(enumerate(times))
    period = float(1 / fps)
    shown, synced = [], 0
    slot = first = round(clips["start_s"].iloc[0] / period)
    for row in clips.itertuples():
        clip = decode_clip(study.root / row.file)
        assert clip.fps == fps and len(clip.indices) == row.frames
        assert abs(clip.audio_seconds - clip.video_seconds) <= period
        assert round(row.start_s / period) == slot  # clips tile the grid
        onsets = [at for i, at in enumerate(clip.flash_times)
                  if i == 0 or at - clip.flash_times[i - 1] > 1.5 * period]  # repeats: once
        for flash in onsets:
            assert any(abs(flash - beep) <= period for beep in clip.beep_times), (
                row.file, flash, clip.beep_times)
            synced += 1
        stray_beeps -= len(clip.beep_times) - len(onsets)
        assert stray_beeps >= 0, (row.file, onsets, clip.beep_times)
        repeats = sum(a == b for a, b in zip(clip.indices, clip.indices[1:], strict=False))
        if shown and clip.indices[0] == shown[-1]:  # the frame straddling the boundary
            repeats += 1
        assert row.repeated_frames == repeats
        shown += clip.indices
        slot += row.frames
    distinct = [index for i, index in enumerate(shown) if i == 0 or index != shown[i - 1]]
    assert distinct == sorted(times), "a source frame is in no clip, or in two"
    first_slot = {index: position for position, index in reversed(list(enumerate(shown)))}
    for index, at in times.items():
        assert abs((first + first_slot[index]) * period - at) <= period + 1e-9, index
    assert synced == flashes
    return shown


def make_study(root: Path, rows: list[str], epoch: float = 4.0):
    """A study folder with the given sessions.csv data rows."""
    study = init_study(root, epoch_seconds=epoch)
    study.sessions_csv.write_text(
        "dyad_id,timepoint,arm,video,start,end\n" + "".join(r + "\n" for r in rows),
        encoding="utf-8")
    return study


def stamps(study) -> dict[str, int]:
    """Each clip file's modification time, to tell whether a rerun rewrote it."""
    return {p.name: p.stat().st_mtime_ns for p in study.clips_dir.glob("*.mp4")}
