"""A coder rates an interview in a real browser (Debian's Chromium driven by Playwright) on the
study's own server, at 1440x900 and at 1280x720: the transcript and the rating panel on screen
together while the transcript scrolls (each rated passage's heading and its control in view at
once), no key rates behind the coder's back, every item rated from the keyboard (one "not
codable"), Ctrl+Enter submits; choices of a third interview, not submitted, survive closing the
tab; then `pull` has exactly the submitted ratings.

Screenshots go to $CODING_PIPELINE_SCREENSHOTS, else to a folder under pytest's temporary folder;
the test prints where, with the measured figures (`pytest -s`).
"""

from __future__ import annotations

import secrets

import pandas as pd
import pytest
from interview_study import sign_up, write_interviews
from test_ls_browser import (
    AUTO_HOTKEYS,
    CHROMIUM,
    CHROMIUM_ARGS,
    IN_VIEW,
    close_instructions_by_keyboard,
    log_in,
    tab_to,
)
from test_ls_browser import screenshots_dir as _screenshots_dir

from coding_pipeline import batches
from coding_pipeline.labelstudio.pull import pull_study
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.labelstudio.server import start_server, stop_server
from coding_pipeline.labelstudio.transcript_config import rated_items
from coding_pipeline.transcripts.inputs import interview_scheme

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser]

SIZES = [(1440, 900), (1280, 720)]
CODER = f"reader-{secrets.token_hex(3)}@example.org"
PANEL_IN_VIEW = """() => { const b = document.querySelector('.cp-panel').getBoundingClientRect();
  return b.top >= 0 && b.top < innerHeight && b.bottom > 100 && b.left < innerWidth; }"""


def open_interview(page, url: str, project_id: int) -> None:
    page.goto(f"{url}/projects/{project_id}/data")
    page.get_by_text("Label All Tasks").first.click()
    dialog = page.locator(".lsf-modal-ls").filter(has_text="Labeling Instructions")
    dialog.wait_for(timeout=60_000)
    assert "not codable" in dialog.inner_text() and "draft" in dialog.inner_text()
    page.wait_for_selector(".cp-dialogue .cp-turn", timeout=60_000)
    close_instructions_by_keyboard(page, dialog)
    first_point = page.locator(".cp-panel .lsf-choices").first.locator("input[type=radio]").first
    assert first_point.evaluate(IN_VIEW), "the first question is scrolled away when it opens"


def rate_interview(page, items, chosen: dict[str, str], numbers: dict[str, str]) -> list[str]:
    """Scroll each question's heading into view, Tab to its chosen point and press Space; the
    heading and the control must be on screen together."""
    groups = page.locator(".cp-panel .lsf-choices")
    seen = []
    for index, item in enumerate(items):
        heading = page.locator(".cp-dialogue h4.cp-q", has_text=f"Q{numbers.get(item.id)} ")
        if item.id in numbers and not heading.count():  # a question this interview lacks
            assert page.locator(".cp-panel").get_by_text("Not found in this interview").count()
            numbers = {k: v for k, v in numbers.items() if k != item.id}
        if item.id in numbers:
            heading.first.scroll_into_view_if_needed()
            assert heading.first.evaluate(IN_VIEW), f"{item.id}: heading off screen"
        radios = groups.nth(index).locator("input[type=radio]")
        position = [*map(str, item.scale.points), "not codable"].index(chosen[item.id])
        tab_to(page, radios.nth(position))
        page.keyboard.press("Space")
        assert radios.nth(position).is_checked(), item.id
        assert radios.nth(position).evaluate(IN_VIEW), f"{item.id}: its control is off screen"
        if item.id in numbers:
            assert heading.first.evaluate(IN_VIEW), f"{item.id}: heading scrolled away"
        assert page.evaluate(PANEL_IN_VIEW)
        seen.append(item.id)
    return seen


def draft_survives_closing_the_tab(browser, url: str, password: str, project_id: int, items,
                                   chosen: dict[str, str]) -> None:
    """Three items rated, the tab closes 6.5 s later; the coder's next page has them."""
    context = browser.new_context(viewport={"width": SIZES[-1][0], "height": SIZES[-1][1]})
    page = context.new_page()
    log_in(page, url, CODER, password)
    open_interview(page, url, project_id)
    rate_interview(page, items[:3], chosen, {})
    page.wait_for_timeout(6_500)  # Label Studio saves a draft 5 s after a change
    page.close()
    page = context.new_page()
    open_interview(page, url, project_id)
    groups = page.locator(".cp-panel .lsf-choices")
    for index, item in enumerate(items):
        position = [*map(str, item.scale.points), "not codable"].index(chosen[item.id])
        checked = groups.nth(index).locator("input[type=radio]").nth(position).is_checked()
        assert checked == (index < 3), item.id
    context.close()


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="Debian's chromium is not installed (apt-get install chromium)")
def test_a_coder_reads_and_rates_an_interview_by_keyboard_at_both_sizes(
        tmp_path_factory, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    study = write_interviews(tmp_path_factory.mktemp("rf-browser") / "study")
    url = start_server(study)
    try:
        sessions, passwords = sign_up(study, [CODER])
        sessions[CODER].close()
        batches.create_batch(study, [CODER], reliability_share=0.0, seed=3, interviews=True)
        push_study(study)
        project_id = int(read_projects(study).iloc[0]["project_id"])
        scheme = interview_scheme(study)
        items = rated_items(scheme)
        numbers = {q.id: q.number for q in scheme.questions}
        chosen = {item.id: "not codable" if i == 1 else str((i * 3) % 11 - 1)
                  for i, item in enumerate(items)}
        shots = _screenshots_dir(tmp_path_factory)
        figures = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS)
            try:
                for width, height in SIZES:
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    log_in(page, url, CODER, passwords[CODER])
                    open_interview(page, url, project_id)
                    page.screenshot(path=str(shots / f"interview-{width}x{height}-opened.png"))
                    page.evaluate("() => document.activeElement && document.activeElement.blur()")
                    for key in AUTO_HOTKEYS:
                        page.keyboard.press(key)
                    assert page.locator("input[type=radio]:checked").count() == 0
                    rated = rate_interview(page, items, chosen, numbers)
                    page.screenshot(path=str(shots / f"interview-{width}x{height}-rated.png"))
                    assert page.get_by_text("Not allowed for coders").count() == 0
                    page.keyboard.press("Control+Enter")
                    page.wait_for_function(
                        "() => document.querySelectorAll('input[type=radio]:checked').length"
                        " === 0 || document.body.innerText.includes('No More Tasks')",
                        timeout=30_000)
                    figures.append(f"{width}x{height}: {len(rated)} items rated, each with its "
                                   "passage heading and control on screen together")
                    context.close()
                draft_survives_closing_the_tab(browser, url, passwords[CODER], project_id,
                                               items, chosen)
            finally:
                browser.close()
        print(f"\nscreenshots in {shots}\n" + "\n".join(figures))
        report = pull_study(study)
        assert report.new == len(SIZES)
        ratings = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
        for _, rows in ratings.groupby("clip_id"):
            got = dict(zip(rows["item"], rows["value"], strict=True))
            assert got == {k: ("" if v == "not codable" else v) for k, v in chosen.items()}
            assert set(rows.loc[rows["value"] == "", "status"]) == {"not_codable"}
    finally:
        stop_server(study)
