"""A coder's session in a real browser (Debian's Chromium driven by Playwright) on the real
server, for each shipped scheme at 1440x900 and at 1280x720: log in, the project's instructions
open first and close from the keyboard, the clip loads, plays with sound and seeks, no key
rates behind the coder's back, one step moves one frame, every item is rated from the keyboard
while the clip plays and stays at least half on screen, Ctrl+Enter submits; choices of a third
clip, not submitted, survive closing the tab; then `pull` has exactly the submitted ratings.

Screenshots of the labeling screen at both sizes go to $CODING_PIPELINE_SCREENSHOTS, else to a
folder under pytest's temporary folder; the test prints where, with the measured figures
(`pytest -s -k browser`).
"""

from __future__ import annotations

import os
import secrets
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from coding_pipeline import batches
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.coders import coder_session, invite_link
from coding_pipeline.labelstudio.pull import pull_study
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.scheme import Item, load_scheme

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SIZES = [(1440, 900), (1280, 720)]
FPS = 25
# Label Studio's automatic hotkeys, in the order it hands them out (core/Hotkey.ts makeComb)
AUTO_HOTKEYS = "1234567890qwetasdfgzxcvbyiopjklnm"

MEDIA_STATE = """() => {
  const v = document.querySelector('video');
  return {ready: v.readyState, duration: v.duration, time: v.currentTime, src: v.currentSrc,
          paused: v.paused, audioBytes: v.webkitAudioDecodedByteCount,
          videoBytes: v.webkitVideoDecodedByteCount,
          seekableEnd: v.seekable.length ? v.seekable.end(0) : 0, error: v.error && v.error.code};
}"""

PLAY_FOR_A_SECOND = """async () => {
  const v = document.querySelector('video');
  v.muted = false; v.volume = 1;
  await v.play();
  await new Promise(r => setTimeout(r, 1000));
  v.pause();
  return v.currentTime;
}"""

SEEK = """async (to) => {
  const v = document.querySelector('video');
  const done = new Promise(r => v.addEventListener('seeked', r, {once: true}));
  v.currentTime = to;
  await done;
  return v.currentTime;
}"""

# The share of the clip's canvas (where Label Studio draws the picture) inside the window.
VISIBLE_SHARE = """() => {
  const b = document.querySelector('.cp-clip canvas').getBoundingClientRect();
  const w = Math.max(0, Math.min(b.right, innerWidth) - Math.max(b.left, 0));
  const h = Math.max(0, Math.min(b.bottom, innerHeight) - Math.max(b.top, 0));
  return b.width * b.height > 0 ? (w * h) / (b.width * b.height) : 0;
}"""

IN_VIEW = """(e) => { const b = e.getBoundingClientRect();
  return b.top >= 0 && b.bottom <= innerHeight && b.left >= 0 && b.right <= innerWidth; }"""

CURRENT_TIME_CHANGED = """(before) =>
  Math.abs(document.querySelector('video').currentTime - before) > 1e-4"""


def screenshots_dir(tmp_path_factory) -> Path:
    folder = os.environ.get("CODING_PIPELINE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.getbasetemp() / "coder-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_in(page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/user/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda address: "/user/login" not in address)


def tab_to(page, locator, limit: int = 400) -> None:
    """Press Tab until `locator` has the keyboard focus (the coder's way, no mouse)."""
    target = locator.element_handle()
    for _ in range(limit):
        if page.evaluate("(e) => document.activeElement === e", target):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {locator}")


def open_next_task(page, url: str, project_id: int, instructions: str) -> None:
    """Label All Tasks: the instructions come first; once the clip has loaded behind them, they
    close from the keyboard (Tab to their X, Space)."""
    page.goto(f"{url}/projects/{project_id}/data")
    page.get_by_text("Label All Tasks").first.click()
    dialog = page.locator(".lsf-modal-ls").filter(has_text="Labeling Instructions")
    dialog.wait_for(timeout=60_000)
    text = " ".join(dialog.inner_text().split())
    assert " ".join(instructions.split("\n\n")[0].split()) in text
    assert "Video hop size" in text and "draft" in text
    page.wait_for_selector("video", state="attached", timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector('video').readyState >= 3", timeout=60_000)
    close_instructions_by_keyboard(page, dialog)
    first_point = page.locator(".cp-items .lsf-choices").first.locator("input[type=radio]").first
    assert first_point.evaluate(IN_VIEW), "the first item is scrolled away when the clip opens"


def close_instructions_by_keyboard(page, dialog) -> None:
    """The instructions dialog has the keyboard focus on its close button as it opens (the
    coder script puts it there), so Space closes it without tabbing through the page behind."""
    page.wait_for_function(
        "() => document.activeElement?.getAttribute('aria-label') === 'Close modal'",
        timeout=10_000)
    page.keyboard.press("Space")
    dialog.wait_for(state="detached", timeout=10_000)


def step_size(page, press) -> float:
    """How far the clip's currentTime moves when `press(page)` is done once, in seconds."""
    before = page.evaluate("() => document.querySelector('video').currentTime")
    press(page)
    page.wait_for_function(CURRENT_TIME_CHANGED, arg=before, timeout=5_000)
    page.wait_for_timeout(300)  # Label Studio settles the frame after the first seek event
    return page.evaluate("() => document.querySelector('video').currentTime") - before


def rate_by_keyboard(page, items: list[Item], chosen: dict[str, int], shares: list[float]) -> None:
    """Tab to each item's chosen point and press Space; measure the clip's share on screen."""
    groups = page.locator(".cp-items .lsf-choices")
    names = [item.id for item in items]
    for item in items:
        index = names.index(item.id)
        radios = groups.nth(index).locator("input[type=radio]")
        position = item.scale.points.index(chosen[item.id])
        tab_to(page, radios.nth(position))
        page.keyboard.press("Space")
        assert radios.nth(position).is_checked(), item.id
        assert radios.nth(position).evaluate(IN_VIEW), f"{item.id}: the point is off screen"
        shares.append(page.evaluate(VISIBLE_SHARE))


def code_a_clip(browser, size: tuple[int, int], url: str, coder: str, password: str,
                project_id: int, scheme, chosen: dict[str, int], shots: Path) -> str:
    """One coder's clip at one window size, all checks on the way; returns the figures."""
    width, height = size
    items = list(scheme.items)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    log_in(page, url, coder, password)
    open_next_task(page, url, project_id, scheme.instructions)
    name = f"{scheme.name}-{width}x{height}"
    page.screenshot(path=str(shots / f"{name}-opened.png"))

    # no hotkey marks beside the points, and no key rates an item
    labels = page.locator(".cp-items .lsf-choice")
    assert labels.count() == sum(len(item.scale.points) for item in items)
    assert set(labels.all_inner_texts()) == {str(p) for item in items for p in item.scale.points}
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for key in AUTO_HOTKEYS:
        page.keyboard.press(key)
    assert page.locator("input[type=radio]:checked").count() == 0

    # one step moves one frame: the step key, then the step button
    key_step = step_size(page, lambda p: p.keyboard.press("Alt+ArrowRight"))
    button_step = step_size(page, lambda p: p.get_by_label("Step forward").click())
    assert key_step == pytest.approx(1 / FPS, abs=0.25 / FPS)
    assert button_step == pytest.approx(1 / FPS, abs=0.25 / FPS)

    state = page.evaluate(MEDIA_STATE)
    assert state["error"] is None and "/data/local-files/?d=" in state["src"]
    assert state["duration"] == pytest.approx(2.0, abs=0.15)
    assert state["seekableEnd"] == pytest.approx(state["duration"], abs=0.15)
    if size == SIZES[0]:
        assert page.evaluate(PLAY_FOR_A_SECOND) > 0.3
        after_play = page.evaluate(MEDIA_STATE)
        assert after_play["audioBytes"] > 0 and after_play["videoBytes"] > 0
        assert page.evaluate(SEEK, 1.5) == pytest.approx(1.5, abs=0.1)
        assert page.evaluate(SEEK, 0.2) == pytest.approx(0.2, abs=0.1)

    # rating starts while the clip plays (Ctrl+Alt+Space works wherever the focus is)
    page.keyboard.press("Control+Alt+Space")
    page.wait_for_function("() => !document.querySelector('video').paused")
    shares: list[float] = []
    rate_by_keyboard(page, items, chosen, shares)
    page.screenshot(path=str(shots / f"{name}-rated.png"))
    assert page.get_by_text("Not allowed for coders").count() == 0  # no refusal reached her screen
    assert min(shares) >= 0.5, shares
    page.keyboard.press("Control+Enter")  # Label Studio's submit hotkey
    page.wait_for_function(
        "() => document.querySelectorAll('input[type=radio]:checked').length === 0 "
        "|| document.body.innerText.includes('No More Tasks')", timeout=30_000)
    context.close()
    return (f"{name}: clip on screen min {min(shares):.2f} over {len(shares)} items; "
            f"step key {key_step * FPS:.2f} frame, step button {button_step * FPS:.2f} frame")


def choices_survive_closing_the_tab(browser, url: str, coder: str, password: str,
                                    project_id: int, scheme, chosen: dict[str, int]) -> None:
    """Half the items rated, the tab closes 6.5 s later; the coder's next page has them."""
    items = list(scheme.items)
    context = browser.new_context(viewport={"width": SIZES[-1][0], "height": SIZES[-1][1]})
    page = context.new_page()
    log_in(page, url, coder, password)
    open_next_task(page, url, project_id, scheme.instructions)
    half = max(1, len(items) // 2)
    rate_by_keyboard(page, items[:half], chosen, [])
    page.wait_for_timeout(6_500)  # Label Studio saves a draft 5 s after a change
    page.close()
    page = context.new_page()
    open_next_task(page, url, project_id, scheme.instructions)
    groups = page.locator(".cp-items .lsf-choices")
    for index, item in enumerate(items):
        radio = groups.nth(index).locator("input[type=radio]").nth(
            item.scale.points.index(chosen[item.id]))
        assert radio.is_checked() == (index < half), item.id
    context.close()


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="Debian's chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("scheme_file", [
    "sensitivity_involvement_reciprocity.yaml", "global_sensitivity_9point.yaml"])
def test_a_coder_watches_and_rates_by_keyboard_at_both_sizes_and_pull_has_it(
        scheme_file, label_studio, make_ls_study, tmp_path, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    study = make_ls_study(tmp_path / "study", n_clips=len(SIZES) + 1, scheme=scheme_file)
    coder = f"browser-{secrets.token_hex(3)}@example.org"
    password = "Coder-" + secrets.token_urlsafe(12)
    session = coder_session(label_studio.url, coder, password, invite=invite_link(connect(study)))
    session.close()
    batches.create_batch(study, [coder], reliability_share=0.0, seed=3)
    push_study(study)
    project_id = int(read_projects(study).iloc[0]["project_id"])
    scheme = load_scheme(study.scheme_path)
    items = list(scheme.items)
    chosen = {item.id: item.scale.points[(i * 2 + 1) % len(item.scale.points)]
              for i, item in enumerate(items)}
    shots = screenshots_dir(tmp_path_factory)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            figures = [code_a_clip(browser, size, label_studio.url, coder, password, project_id,
                                   scheme, chosen, shots) for size in SIZES]
            choices_survive_closing_the_tab(browser, label_studio.url, coder, password,
                                            project_id, scheme, chosen)
        finally:
            browser.close()
    print(f"\nscreenshots in {shots}\n" + "\n".join(figures))

    report = pull_study(study)
    assert report.new == len(SIZES)
    ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    assert set(ratings["coder"]) == {coder} and set(ratings["status"]) == {"rated"}
    assert ratings["clip_id"].nunique() == len(SIZES)  # the draft is not a rating
    for _clip_id, rows in ratings.groupby("clip_id"):
        assert dict(zip(rows["item"], rows["value"].astype(int), strict=True)) == chosen
    assert (ratings["lead_time"].astype(float) > 0).all()
    with closing(coder_session(label_studio.url, coder, password)) as again:
        assert again.get("/api/current-user/whoami").json()["email"] == coder
