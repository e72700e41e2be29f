"""The kNN memory page in a real headless Chromium on the built-in garments (run.sh)."""
from tests.browser import ARTIFACTS, wait_for_app


def test_memory_page_shows_accuracy_and_the_add_a_class_measurement(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{app_url}/memory")
    wait_for_app(page, "Adding", timeout_ms=900_000)
    body = page.inner_text("body")
    assert "kNN memory" in body and "exact search over" in body
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=60_000)
    assert page.locator(".js-plotly-plot").count() >= 2  # accuracy bars + before/after bars
    assert page.locator("[data-testid='stDataFrame']").count() >= 2
    assert "Traceback" not in body and "Something went wrong" not in body
    page.screenshot(path=str(ARTIFACTS / "memory.png"), full_page=True)
    page.close()
