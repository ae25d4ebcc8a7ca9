"""The still a session's ROIs are drawn on: taken 10 s after its start, as a player shows it
(phone rotation applied, one field of interlaced footage), written inside the study folder."""

import stat
import subprocess
from fractions import Fraction

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from coding_pipeline.motion.frames import session_still, write_jpeg
from coding_pipeline.study import init_study, load_study, read_sessions, write_text_atomic
from coding_pipeline.video.synth import read_index, write_sample_video

pytestmark = pytest.mark.video


def one_session(tmp_path, name, start="", **video):
    study = init_study(tmp_path / "study")
    source = write_sample_video(study.root / name, **video)
    write_text_atomic(study.sessions_csv, "dyad_id,timepoint,arm,video,start,end\n"
                                          f"D1,T1,A,{source.name},{start},\n")
    study = load_study(study.root)
    return study, read_sessions(study)[0][0], source


def players_frame(source, at: float, size) -> np.ndarray:
    """The frame FFmpeg shows at `at` seconds (it applies the display rotation), as BGR."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-ss", f"{at}", "-i",
               str(source), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(size[1], size[0], 3)


def test_still_is_ten_seconds_after_the_start(tmp_path):
    study, session, _ = one_session(tmp_path, "cam.mp4", start="2", seconds=25, fps=30,
                                    width=320, height=180, audio=False)
    still = session_still(study, session)
    assert still.time_s == 12.0 and still.size == (320, 180)
    assert read_index(still.image[:, :, ::-1]) == 360  # frame 12 s x 30 fps


@pytest.mark.parametrize("rotation, size", [(90, (180, 320)), (270, (180, 320)),
                                            (180, (320, 180))])
def test_phone_rotation_is_applied_as_players_show_it(tmp_path, rotation, size):
    study, session, source = one_session(tmp_path, "phone.MOV", seconds=4, fps=30, width=320,
                                         height=180, rotation=rotation, audio=False)
    still = session_still(study, session)  # a 4 s session: its middle
    assert still.time_s == 2.0 and still.size == size
    shown = players_frame(source, 2.0, size)
    assert np.abs(shown.astype(int) - still.image).mean() < 8


def combing(bgr: np.ndarray) -> float:
    """Mean difference of each odd line from the average of its neighbours (interlace combs)."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(float)
    return float(np.abs(grey[1:-1:2] - (grey[:-2:2] + grey[2::2]) / 2).mean())


def test_interlaced_camcorder_still_has_no_combing(tmp_path):
    study, session, source = one_session(tmp_path, "cam.MTS", seconds=3,
                                         fps=Fraction(30000, 1001), width=720, height=480,
                                         interlaced=True, container_format="mpegts",
                                         audio_codec="ac3")
    still = session_still(study, session)
    assert still.size == (720, 480) and still.time_s == pytest.approx(1.5, abs=0.01)
    with av.open(str(source)) as container:  # the woven frame at the same time
        stream = container.streams.video[0]
        start = next(container.decode(stream)).time
        woven = next(f for f in container.decode(stream) if f.time >= start + still.time_s - 1e-6)
    assert combing(still.image) < 0.4 * combing(woven.to_ndarray(format="bgr24"))


def test_still_is_written_with_the_study_permissions(tmp_path):
    study, session, _ = one_session(tmp_path, "cam.mp4", seconds=2, fps=25, width=160,
                                    height=90, audio=False)
    path = study.root / "rois" / "frames" / "abc.jpg"
    write_jpeg(path, session_still(study, session).image)
    assert cv2.imread(str(path)).shape == (90, 160, 3)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
