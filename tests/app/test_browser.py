"""The README's run command, opened in a real headless Chromium: look at what a person sees."""
from tests.browser import ARTIFACTS, wait_for_app


def test_data_model_page_in_chromium(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    wait_for_app(page, "Thumbnails per class")
    # Element code (table, charts, sliders) is loaded lazily by the browser on a fresh page: wait for it.
    page.get_by_text("blocks.6", exact=False).first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    body = page.inner_text("body")
    assert "Data & model" in body and "Dataset · garments" in body
    assert "Cached: 1000 images" in body  # run.sh precomputed the built-in descriptors
    assert "block 5" in body and "blocks.6" in body
    assert page.locator("[data-testid='stImage'] img").count() >= 40  # thumbnails per class
    assert page.locator(".js-plotly-plot").count() >= 1
    assert "Traceback" not in body
    page.screenshot(path=str(ARTIFACTS / "data_model.png"), full_page=False)
    page.close()
