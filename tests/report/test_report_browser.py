"""The report rendered in headless Chromium: no console errors, every image loads."""

import shutil

import pytest

from coding_pipeline.report.html import report_study

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM),
                       reason="Debian's chromium is not installed (scripts/test.sh installs it)"),
]


def test_report_renders_in_chromium_with_every_image(rated_study):
    from playwright.sync_api import sync_playwright

    path = report_study(rated_study)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: problems.append(f"network: {r.url}")
                if not r.url.startswith(("file:", "data:")) else None)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.alt])")
        browser.close()
    assert problems == []
    assert len(images) == 14
    assert all(complete and width > 100 for complete, width, _ in images), images
