"""Motion energy on generated frames: two textured figures with known motions on a textured,
noisy background; a camera shake and a light change flagged by the background ROI."""

import doctest

import numpy as np
import pytest

from coding_pipeline.motion import energy
from coding_pipeline.motion.energy import (
    DEFAULT_THRESHOLD,
    MotionEnergyAccumulator,
    MotionSettings,
    PixelBox,
    pixel_box,
)

HEIGHT, WIDTH = 240, 320
ROIS = {"caregiver": (0.05, 0.3, 0.4, 0.6), "child": (0.55, 0.3, 0.4, 0.6),
        "background": (0.0, 0.0, 1.0, 0.2)}
ROI_PIXELS = 128 * 144  # 0.4 x 320 by 0.6 x 240
FIGURE_HEIGHT, FIGURE_WIDTH = 80, 50
FRAMES = 60


def blocks(rng, height, width, grain):
    """Random texture in grain x grain blocks (survives shrinking and blurring)."""
    small = rng.integers(0, 256, (height // grain + 1, width // grain + 1)).astype(np.uint8)
    return np.kron(small, np.ones((grain, grain), np.uint8))[:height, :width]


def positions(start, step, moving):
    return start + np.cumsum([step if t in moving else 0 for t in range(FRAMES)])


def scene(seed=0, noise_sd=3.0, shake=None, light=None):
    """Frames of two figures: the caregiver moves 2 px a frame in frames 10-19, the child 3 px a
    frame in frames 30-39. `shake` = frame shown shifted by (3, 2) px; `light` = frame from which
    the picture is 40 grey levels brighter."""
    rng = np.random.default_rng(seed)
    background = blocks(rng, HEIGHT, WIDTH, 8)
    caregiver, child = (blocks(rng, FIGURE_HEIGHT, FIGURE_WIDTH, 4) for _ in range(2))
    caregiver_x = positions(30, 2, range(10, 20))
    child_x = positions(190, 3, range(30, 40))
    frames = []
    for t in range(FRAMES):
        picture = background.copy()
        picture[100:180, caregiver_x[t]:caregiver_x[t] + FIGURE_WIDTH] = caregiver
        picture[100:180, child_x[t]:child_x[t] + FIGURE_WIDTH] = child
        picture = picture + rng.normal(0, noise_sd, picture.shape)
        if shake == t:
            picture = np.roll(picture, (2, 3), axis=(0, 1))
        if light is not None and t >= light:
            picture = picture + 40
        frames.append(np.clip(picture, 0, 255).astype(np.uint8))
    return frames


def measure(frames, rois=ROIS, settings=None):
    meter = MotionEnergyAccumulator(rois, settings)
    for frame in frames:
        meter.feed(frame)
    assert meter.frames == len(frames)
    return meter.result()


@pytest.mark.parametrize("threshold", [0, 1, 2, 7, 31, 62, 63])
def test_shares_match_a_direct_count_of_changed_pixels(threshold):
    """Against numpy on the same definition: odd picture sizes, odd box edges and widths,
    overlapping boxes, differences of every size (pixel pairs and the 64+ column)."""
    rng = np.random.default_rng(threshold)
    frames = [rng.integers(0, 256, (37, 53), dtype=np.uint8)]
    for _ in range(6):
        step = rng.choice([0, 1, 2, 5, 40, 64, 65, 200], size=(37, 53))
        frames.append(np.clip(frames[-1].astype(int) + step * rng.choice([-1, 1], (37, 53)),
                              0, 255).astype(np.uint8))
    rois = {"caregiver": (0.0, 0.0, 0.62, 1.0), "child": (0.33, 0.1, 0.67, 0.77),
            "background": (0.07, 0.0, 0.07, 0.2)}  # 33, 36 and 3 columns wide
    settings = MotionSettings(blur_kernel=0, downscale=1, threshold=threshold)
    result = measure(frames, rois, settings)
    for role, fractions in rois.items():
        box = pixel_box(fractions, 53, 37)
        expected = [np.nan] + [
            float(np.mean(np.abs(after[box.y0:box.y1, box.x0:box.x1].astype(int)
                                 - before[box.y0:box.y1, box.x0:box.x1]) > threshold))
            for before, after in zip(frames[:-1], frames[1:], strict=True)]
        np.testing.assert_allclose(result.energy[role], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("width", [1, 2, 3, 8, 51])
def test_class_counts_are_a_plain_count_of_every_class(width):
    """Pixel pairs and an odd last column, in a view cut out of a larger picture at an odd
    column, against np.bincount."""
    rng = np.random.default_rng(width)
    picture = rng.choice([0, 0, 0, 1, 1, 2, 9, 63, 64], size=(23, width + 10)).astype(np.uint8)
    view = picture[3:20, 5:5 + width]
    expected = np.bincount(view.ravel(), minlength=energy.CLASSES)
    np.testing.assert_array_equal(energy.class_counts(view), expected)


@pytest.mark.parametrize("size", [(120, 160), (119, 161), (96, 128)])
@pytest.mark.parametrize("downscale,blur", [(1, 0), (1, 5), (0.5, 5), (0.5, 0), (0.25, 7),
                                            (0.3, 5), (0.5, 3)])
def test_measuring_only_the_rois_part_gives_the_whole_pictures_values(size, downscale, blur):
    """After the first frame only the ROIs' part of the picture (and the blur's margin) is
    shrunk and blurred: every ROI's shares are those measured on the whole picture (a ROI
    over the whole picture makes the meter keep it whole)."""
    height, width = size
    rng = np.random.default_rng(height + width)
    frames = [blocks(rng, height, width, 3) for _ in range(8)]
    frames = [cv2_noise(rng, frame) for frame in frames]
    rois = {"caregiver": (0.11, 0.27, 0.3, 0.5), "child": (0.47, 0.31, 0.29, 0.41),
            "background": (0.2, 0.03, 0.33, 0.1)}
    settings = MotionSettings(blur_kernel=blur, downscale=downscale, threshold=3)
    cropped = measure(frames, rois, settings)
    whole = measure(frames, {**rois, "scene": (0.0, 0.0, 1.0, 1.0)}, settings)
    for role in rois:
        np.testing.assert_array_equal(cropped.energy[role], whole.energy[role])
    assert cropped.energy["caregiver"][1:].max() > 0


def cv2_noise(rng, frame):
    return np.clip(frame + rng.normal(0, 20, frame.shape), 0, 255).astype(np.uint8)


def test_known_motions_show_in_their_own_roi_only():
    result = measure(scene())
    caregiver, child = result.energy["caregiver"], result.energy["child"]
    caregiver_moves = np.isin(np.arange(FRAMES), range(10, 20))
    child_moves = np.isin(np.arange(FRAMES), range(30, 40))
    assert np.isnan(caregiver[0]) and np.isnan(child[0])
    for values, moves in ((caregiver, caregiver_moves), (child, child_moves)):
        assert (values[moves] > 0.15).all()
        assert (values[1:][~moves[1:]] < 0.01).all()
    # changed pixels: the figure's old and new places, (50 + step) x 80 of the ROI's pixels
    for values, step in ((caregiver[caregiver_moves], 2), (child[child_moves], 3)):
        expected = (FIGURE_WIDTH + step) * FIGURE_HEIGHT / ROI_PIXELS
        assert values.mean() == pytest.approx(expected, rel=0.2)
    assert not result.background_moved.any()


def test_noise_threshold_from_background_else_setting_else_default():
    frames = scene(noise_sd=3.0)
    estimated = measure(frames)
    assert estimated.threshold_source == "background" and 1 <= estimated.threshold < 10
    assert np.nanmedian(estimated.energy["background"]) <= 0.01
    noisier = measure(scene(noise_sd=8.0))
    assert noisier.threshold > estimated.threshold
    assert np.nanmedian(noisier.energy["caregiver"]) <= 0.01
    people = {role: box for role, box in ROIS.items() if role != "background"}
    default = measure(frames, people)
    assert (default.threshold, default.threshold_source) == (DEFAULT_THRESHOLD, "default")
    assert not default.background_moved.any()
    fixed = measure(frames, settings=MotionSettings(threshold=30))
    assert (fixed.threshold, fixed.threshold_source) == (30, "setting")
    assert (fixed.energy["caregiver"][1:] <= estimated.energy["caregiver"][1:]).all()


def test_camera_shake_moves_every_roi_and_is_flagged():
    result = measure(scene(shake=25))
    flagged = np.flatnonzero(result.background_moved).tolist()
    assert flagged == [25, 26]  # shifted away, then back
    for role in ("caregiver", "child", "background"):
        assert (result.energy[role][[25, 26]] > 0.3).all()
    kept = result.without_background_moves()
    assert np.isnan(kept["child"][[25, 26]]).all()
    assert kept["child"][35] == result.energy["child"][35]
    assert result.background_moved_share == pytest.approx(2 / (FRAMES - 1))


def test_light_change_is_flagged():
    result = measure(scene(light=45))
    assert np.flatnonzero(result.background_moved).tolist() == [45]


def test_bgr_frames_and_full_size_agree_with_grey_in_shape():
    frames = scene()
    grey = measure(frames)
    bgr = measure([np.repeat(frame[:, :, None], 3, axis=2) for frame in frames])
    np.testing.assert_allclose(bgr.energy["caregiver"], grey.energy["caregiver"], atol=1e-3)
    full = measure(frames, settings=MotionSettings(downscale=1.0))
    correlation = np.corrcoef(full.energy["caregiver"][1:], grey.energy["caregiver"][1:])[0, 1]
    assert correlation > 0.99


def test_pixel_boxes_and_input_checks():
    assert pixel_box((0.0, 0.0, 1.0, 1.0), 160, 120) == PixelBox(0, 0, 160, 120)
    assert pixel_box((0.999, 0.5, 0.001, 0.0001), 160, 120) == PixelBox(160 - 1, 60, 160, 61)
    meter = MotionEnergyAccumulator(ROIS)
    meter.feed(np.zeros((120, 160), np.uint8))
    with pytest.raises(ValueError, match="frame size changed"):
        meter.feed(np.zeros((121, 160), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        meter.feed(np.zeros((120, 160), np.float32))
    with pytest.raises(ValueError, match="threshold"):
        MotionSettings(threshold=64)
    with pytest.raises(ValueError, match="odd"):
        MotionSettings(blur_kernel=4)


def test_docstring_examples():
    outcome = doctest.testmod(energy)
    assert outcome.attempted > 0 and outcome.failed == 0
