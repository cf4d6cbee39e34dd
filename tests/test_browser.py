"""The editor in a real browser: JupyterLab + Chromium (Playwright) open 02-design-and-validate, run it, add a
container and break a subnet with the editor, and see the drawing and the problems list follow. A screenshot is
saved in test-artifacts/. Skips locally when Chromium or Playwright is missing; fails in CI instead."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LabServer, browser_missing, jupyterlab

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "02-design-and-validate.ipynb"
WAIT_MS = 90_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LabServer]:
    reason = browser_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI, but: {reason}")
        pytest.skip(reason)
    with jupyterlab(REPO, tmp_path) as lab:
        yield lab


def _drawing(page: object) -> str:
    src: str = page.locator(".netlab-drawing").first.get_attribute("src") or ""  # type: ignore[attr-defined]
    return src


def test_editor_in_jupyterlab(server: LabServer) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.set_default_timeout(WAIT_MS)
            page.goto(server.notebook_url(NOTEBOOK))
            page.wait_for_selector(".jp-Notebook")
            editor = page.locator(".netlab-editor")
            for attempt in range(3):            # a Run All sent before the kernel is connected is lost
                expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible()
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                try:
                    editor.wait_for(state="visible", timeout=30_000 * (attempt + 1))
                    break
                except PlaywrightTimeout:
                    if attempt == 2:
                        raise
            editor.scroll_into_view_if_needed()
            expect(page.locator(".netlab-drawing")).to_have_attribute("src", re.compile(".+"))
            before = _drawing(page)
            problems = page.locator(".netlab-problems .netlab-problem")
            expect(problems).to_have_count(0)

            page.locator(".netlab-new-container-name input").fill("cache")
            page.locator(".netlab-add-container").click()
            expect(page.locator(".netlab-status")).to_contain_text("cache")
            page.wait_for_function("([sel, old]) => document.querySelector(sel).getAttribute('src') !== old",
                                   arg=[".netlab-drawing", before])
            after_add = _drawing(page)
            assert after_add != before

            page.locator(".netlab-network-select select").select_option("front")
            subnet = page.locator(".netlab-subnet input")
            subnet.fill("10.20.2.0/24")               # overlaps admin on h1
            subnet.press("Enter")
            expect(problems.first).to_contain_text("front")
            assert "overlap" in problems.first.inner_text()
            page.wait_for_function("([sel, old]) => document.querySelector(sel).getAttribute('src') !== old",
                                   arg=[".netlab-drawing", after_add])
            editor.screenshot(path=str(ARTIFACTS / "editor.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-failure.png"))
            raise
        finally:
            browser.close()
    assert (ARTIFACTS / "editor.png").stat().st_size > 10_000
