"""A coder's session in a real browser (Debian's Chromium driven by Playwright): log in, open
the next task, the clip loads, plays with sound and seeks, every item is rated from the keyboard,
submit; then `pull` has exactly those ratings."""

from __future__ import annotations

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
from coding_pipeline.scheme import load_scheme

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

MEDIA_STATE = """() => {
  const v = document.querySelector('video');
  return {ready: v.readyState, duration: v.duration, time: v.currentTime, src: v.currentSrc,
          audioBytes: v.webkitAudioDecodedByteCount, videoBytes: v.webkitVideoDecodedByteCount,
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


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="Debian's chromium is not installed (apt-get install chromium)")
def test_a_coder_rates_a_clip_in_the_browser_and_pull_has_it(ls_study, label_studio, tmp_path):
    from playwright.sync_api import sync_playwright

    coder = f"browser-{secrets.token_hex(3)}@example.org"
    password = "Coder-" + secrets.token_urlsafe(12)
    connection = connect(ls_study)
    session = coder_session(label_studio.url, coder, password, invite=invite_link(connection))
    session.close()
    batches.create_batch(ls_study, [coder], reliability_share=0.0, seed=3)
    push_study(ls_study)
    project_id = int(read_projects(ls_study).iloc[0]["project_id"])
    scheme = load_scheme(ls_study.scheme_path)
    chosen = {item.id: item.scale.points[(i * 2) % len(item.scale.points)]
              for i, item in enumerate(scheme.items)}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{label_studio.url}/user/login/")
            page.fill("input[name=email]", coder)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/user/login" not in url)

            page.goto(f"{label_studio.url}/projects/{project_id}/data")
            page.get_by_text("Label All Tasks").first.click()
            page.wait_for_selector("video", state="attached", timeout=60_000)
            page.wait_for_function(
                "() => document.querySelector('video').readyState >= 3", timeout=60_000)
            state = page.evaluate(MEDIA_STATE)
            assert state["error"] is None
            assert "/data/local-files/?d=" in state["src"]
            assert state["duration"] == pytest.approx(2.0, abs=0.15)
            assert state["seekableEnd"] == pytest.approx(state["duration"], abs=0.15)

            played_to = page.evaluate(PLAY_FOR_A_SECOND)
            assert played_to > 0.3
            after_play = page.evaluate(MEDIA_STATE)
            assert after_play["audioBytes"] > 0 and after_play["videoBytes"] > 0
            assert page.evaluate(SEEK, 1.5) == pytest.approx(1.5, abs=0.1)
            assert page.evaluate(SEEK, 0.2) == pytest.approx(0.2, abs=0.1)

            groups = page.locator(".lsf-choices")
            assert groups.count() == len(scheme.items)
            for index, item in enumerate(scheme.items):
                radios = groups.nth(index).locator("input[type=radio]")
                assert radios.count() == len(item.scale.points)
                radios.first.focus()
                for _ in range(item.scale.points.index(chosen[item.id])):
                    page.keyboard.press("Tab")
                page.keyboard.press("Space")
                position = item.scale.points.index(chosen[item.id])
                assert radios.nth(position).is_checked(), item.id
            page.screenshot(path=str(tmp_path / "rated.png"))
            page.keyboard.press("Control+Enter")  # Label Studio's submit hotkey
            page.wait_for_function(
                "() => !document.querySelector('video') || "
                "document.body.innerText.includes('No more tasks')", timeout=30_000)
        finally:
            browser.close()

    report = pull_study(ls_study)
    assert report.new == 1
    ratings = pd.read_csv(ls_study.ratings_csv, dtype=str, keep_default_na=False)
    assert set(ratings["coder"]) == {coder} and set(ratings["status"]) == {"rated"}
    assert dict(zip(ratings["item"], ratings["value"].astype(int), strict=True)) == chosen
    assert float(ratings["lead_time"].iloc[0]) > 0
    with closing(coder_session(label_studio.url, coder, password)) as again:
        assert again.get("/api/current-user/whoami").json()["email"] == coder
