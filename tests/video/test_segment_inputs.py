"""Every kind of camcorder/phone file a lab has, checked from the decoded clips.

Each source shows its frame index in the pixels and flashes with a beep at known times; the
tests read back which source frames each clip holds, whether sound and picture are in sync,
and the codecs, rate, size and orientation a browser needs.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
import pandas as pd
import pytest
from video_helpers import decode_clip, make_study

from coding_pipeline.segment import segment_study
from coding_pipeline.video.synth import write_sample_video

pytestmark = pytest.mark.video

FLASHES = [0.5, 2.2, 4.4, 5.5]


def segment_one(root: Path, source: Path, epoch: float = 2.0, start: str = "", end: str = "",
                max_height: int | None = None):
    study = make_study(root / "study", [f"D1,T1,A,{source},{start},{end}"], epoch=epoch)
    if max_height is not None:
        text = study.toml_path.read_text().replace("max_height = 720", f"max_height = {max_height}")
        study.toml_path.write_text(text)
        study = type(study)(study.root, type(study.config).from_toml(study.toml_path))
    report = segment_study(study, workers=1, progress=False)
    assert report.problems == [], report.problems
    return study, report, pd.read_csv(study.clips_csv)


def check_clips(study, clips, fps: Fraction, unrotate: int = 0, size=None, expected=None,
                flashes: int | None = None, audio: bool = True):
    """Exact frames, constant rate, browser codecs, equal stream lengths, sync.

    With `flashes` given, every flash must come with a beep within a frame and there must
    be that many in all.
    """
    shown: list[int] = []
    synced = 0
    for row in clips.itertuples():
        clip = decode_clip(study.root / row.file, unrotate=unrotate)
        assert (clip.video_codec, clip.profile, clip.pix_fmt) == ("h264", "High", "yuv420p")
        assert clip.level <= 42 and clip.moov_first and clip.rotation == 0
        assert clip.fps == fps and len(clip.indices) == row.frames
        steps = {round((b - a) * float(fps), 3) for a, b in zip(
            clip.frame_times, clip.frame_times[1:], strict=False)}
        assert steps <= {1.0}, f"not constant rate: {steps}"
        if size is not None:
            assert (clip.width, clip.height) == size
        if not audio:
            assert clip.audio_codec is None and row.qc == "no_audio"
        else:
            assert clip.audio_codec == "aac"
            assert abs(clip.audio_seconds - clip.video_seconds) <= float(1 / fps)
        if audio and flashes is not None:
            assert len(clip.flash_times) == len(clip.beep_times), row.file
            for flash, beep in zip(clip.flash_times, clip.beep_times, strict=True):
                assert abs(flash - beep) <= float(1 / fps), (row.file, flash, beep)
                synced += 1
        first = round(row.start_s * float(fps))
        if expected is None:
            assert clip.indices == list(range(first, first + row.frames)), row.file
        shown += clip.indices
    if expected is not None:
        assert shown == expected
    if audio and flashes is not None:
        assert synced == flashes
    return shown


def test_camcorder_mts_ac3_interlaced_with_start_offset(tmp_path):
    source = write_sample_video(
        tmp_path / "cam.MTS", 6, fps=Fraction(30000, 1001), width=1440, height=1080,
        flashes=FLASHES, audio_codec="ac3", container_format="mpegts", interlaced=True,
        start_offset=1.4)
    with av.open(str(source)) as container:
        assert container.streams.video[0].start_time * container.streams.video[0].time_base > 1
    study, _, clips = segment_one(tmp_path, source)
    shown = check_clips(study, clips, Fraction(30000, 1001), size=(960, 720), flashes=4)
    assert shown == list(range(180))
    with av.open(str(study.root / clips.file[0])) as container:
        frame = next(container.decode(video=0))
        assert not frame.interlaced_frame
        assert container.streams.video[0].codec_context.field_order in (0, 1)


def combing(path: Path) -> float:
    """Mean difference of each odd line from the average of its neighbours (interlace combs)."""
    values = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            gray = frame.to_ndarray(format="gray").astype(float)
            values.append(np.abs(gray[1:-1:2] - (gray[0:-2:2] + gray[2::2]) / 2).mean())
    return float(np.mean(values))


def test_interlaced_fields_are_deinterlaced(tmp_path):
    source = write_sample_video(tmp_path / "dv.MTS", 3, fps=Fraction(30000, 1001), width=720,
                                height=480, interlaced=True, container_format="mpegts",
                                audio_codec="ac3", flashes=[1.0])
    study, _, clips = segment_one(tmp_path, source, epoch=10)
    check_clips(study, clips, Fraction(30000, 1001), size=(720, 480), flashes=1)
    assert combing(study.root / clips.file[0]) < 0.4 * combing(source)


@pytest.mark.parametrize("rotation, unrotate, size", [
    (90, 1, (360, 640)), (180, 2, (640, 360)), (270, 3, (360, 640))])
def test_phone_mov_rotation_is_applied_to_the_pixels(tmp_path, rotation, unrotate, size):
    source = write_sample_video(tmp_path / "phone.MOV", 4, width=640, height=360,
                                rotation=rotation, flashes=[1.0, 3.0])
    study, _, clips = segment_one(tmp_path, source)
    shown = check_clips(study, clips, Fraction(30), unrotate=unrotate, size=size, flashes=2)
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(source),
               "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    players = np.frombuffer(raw, np.uint8).reshape(size[1], size[0], 3)  # FFmpeg autorotates
    with av.open(str(study.root / clips.file[0])) as container:
        ours = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(players.astype(int) - ours).mean() < 8
    assert shown == list(range(120))


@pytest.mark.parametrize("name, options", [
    ("old.avi", {"video_codec": "mjpeg", "audio_codec": "pcm_s16le"}),
    ("export.mkv", {}),
    ("office.wmv", {"video_codec": "wmv2", "audio_codec": "wmav2"}),
    ("stereo.mp4", {"channels": 2, "fps": 25}),
    ("surround.m2ts", {"container_format": "mpegts", "audio_codec": "ac3", "channels": 6}),
    ("tape.avi", {"video_codec": "dvvideo", "audio_codec": "pcm_s16le", "fps": 25,
                  "width": 720, "height": 576, "size": (768, 576)}),  # PAL DV, 16:15 pixels
])
def test_other_containers_and_codecs(tmp_path, name, options):
    options = dict(options)
    fps = Fraction(options.pop("fps", 30))
    size = options.pop("size", (640, 360))
    source = write_sample_video(tmp_path / name, 6, fps=fps, flashes=FLASHES, **options)
    study, _, clips = segment_one(tmp_path, source)
    shown = check_clips(study, clips, fps, flashes=4, size=size)
    assert shown == list(range(round(6 * fps)))


@pytest.mark.parametrize("audio", [
    {"audio_seconds": 9.0},  # sound runs on after the picture
    {"audio_seconds": 4.0},  # sound stops early: silence after
    {"audio_offset": 0.4},  # sound starts late
    {"audio_offset": -0.3},  # sound starts before the first frame
])
def test_audio_longer_shorter_or_offset_stays_in_sync(tmp_path, audio):
    flashes = [0.5, 2.2, 3.5, 5.5]
    source = write_sample_video(tmp_path / "a.mp4", 6, flashes=flashes, **audio)
    study, _, clips = segment_one(tmp_path, source)
    if audio.get("audio_seconds", 99) > 6:
        check_clips(study, clips, Fraction(30), flashes=4)
        return
    check_clips(study, clips.iloc[:-1], Fraction(30), flashes=3)  # 0.5, 2.2 and 3.5 s
    last = decode_clip(study.root / clips.file.iloc[-1])  # 4-6 s: silence after 4 s
    assert last.flash_times == [pytest.approx(1.5)] and last.beep_times == []
    assert abs(last.audio_seconds - last.video_seconds) <= 1 / 30


def test_no_audio_track(tmp_path):
    source = write_sample_video(tmp_path / "mute.mp4", 4, audio=False)
    study, _, clips = segment_one(tmp_path, source)
    check_clips(study, clips, Fraction(30), audio=False)


def test_start_end_window_and_height_cap(tmp_path):
    source = write_sample_video(tmp_path / "w.mp4", 8, width=640, height=480, flashes=FLASHES)
    study, _, clips = segment_one(tmp_path, source, epoch=2.5, start="0:01.5", end="6.9",
                                  max_height=240)
    shown = check_clips(study, clips, Fraction(30), size=(320, 240))
    assert shown == list(range(45, 207))  # ceil(1.5*30) .. ceil(6.9*30)
    assert list(clips.frames) == [75, 87]  # the 12-frame rest (< half an epoch) joins
    assert clips.start_s[0] == pytest.approx(1.5) and clips.end_s.iloc[-1] == pytest.approx(6.9)


def test_late_start_seeks_near_it_without_losing_a_frame(tmp_path):
    source = write_sample_video(tmp_path / "long.mp4", 14, flashes=[11.5, 12.5])
    study, _, clips = segment_one(tmp_path, source, epoch=1.5, start="11", end="13.5")
    shown = check_clips(study, clips, Fraction(30), flashes=2)
    assert shown == list(range(330, 405))


def test_file_cut_short_is_segmented_with_a_warning(tmp_path):
    whole = write_sample_video(tmp_path / "whole.mp4", 8, crf=18)
    data = whole.read_bytes()
    cut = tmp_path / "battery.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    study = make_study(tmp_path / "study", [f"D1,T1,A,{cut},,"], epoch=2.0)
    report = segment_study(study, workers=1, progress=False)
    assert report.problems == []
    assert any("ends early" in w and "usable" in w for w in report.warnings), report.warnings
    clips = pd.read_csv(study.clips_csv)
    total = int(clips.frames.sum())
    assert 60 <= total < 240
    shown = check_clips(study, clips, Fraction(30), flashes=None)
    assert shown == list(range(total))
