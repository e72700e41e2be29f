"""The README's run command, opened in a real headless Chromium: look at what a person sees."""
import os

import pytest

from browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, chromium_available, start_app, stop_app, wait_for_app

pytestmark = pytest.mark.skipif(not chromium_available() and not os.environ.get("CI"),
                                reason="Chromium not installed (test.sh installs it)")


@pytest.fixture(scope="session")
def app_url():
    proc, url = start_app()
    yield url
    stop_app(proc)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_data_model_page_in_chromium(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    wait_for_app(page, "Thumbnails per class")
    body = page.inner_text("body")
    assert "Data & model" in body and "Dataset · garments" in body
    assert "Cached: 1000 images" in body  # run.sh precomputed the built-in descriptors
    assert "block 5" in body and "blocks.6" in body
    assert page.locator("[data-testid='stImage'] img").count() >= 40  # thumbnails per class
    assert page.locator(".js-plotly-plot").count() >= 1
    assert "Traceback" not in body
    page.screenshot(path=str(ARTIFACTS / "data_model.png"), full_page=False)
    page.close()
