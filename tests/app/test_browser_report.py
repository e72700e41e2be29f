"""The "Which block?" pages in a real headless Chromium on the built-in 1000 garments (run.sh)."""
import re

from tests.browser import ARTIFACTS, wait_for_app

SLOW_MS = 900_000  # a cold cache computes the report for every label column (about a minute each on 2 cores)


def open_page(browser, url: str, text: str, height: int = 1000):
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(url)
    wait_for_app(page, text, timeout_ms=SLOW_MS)
    return page


def count(page, selector: str, at_least: int) -> int:
    """Elements matching selector, after waiting (under load grids and plots mount late)."""
    page.locator(selector).nth(at_least - 1).wait_for(timeout=60_000)
    return page.locator(selector).count()


def shot(page, name: str) -> None:
    # Streamlit scrolls inside its main container, so a tall viewport shows more of the page.
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_block_report_shows_tables_recommendations_and_curves(app_url, browser):
    page = open_page(browser, f"{app_url}/report", "How to read this report", height=2600)
    body = page.inner_text("body")
    assert "Block report" in body and "Cached" not in body  # the report page, not the start page
    # Markdown renders `colour` as code: the backticks are not in the page text.
    assert re.search(r"for colour use block \d: kNN [01]\.\d\d ± 0\.\d\d", body)
    assert re.search(r"for pattern use block \d: kNN", body)
    assert "Label column colour" in body and "Label column pattern" in body
    assert count(page, "[data-testid='stDataFrame']", 2) >= 2  # one table per label column
    assert count(page, ".js-plotly-plot", 3) >= 3  # peak curve + one curve per label column
    # Chart titles are SVG text drawn after the plot mounts: wait for it, then read it.
    page.get_by_text("kNN over blocks, per label column").first.wait_for(timeout=60_000)
    assert "Traceback" not in body and "Something went wrong" not in body
    shot(page, "report.png")
    page.close()


def test_accuracy_page_in_chromium(app_url, browser):
    page = open_page(browser, f"{app_url}/accuracy", "kNN in a UMAP-reduced space", height=2200)
    assert count(page, ".js-plotly-plot", 3) >= 3
    page.get_by_text("Confusion matrix").first.wait_for(timeout=60_000)  # a plot title: drawn after mounting
    body = page.inner_text("body")
    assert "Accuracy explorer" in body and "Confusion matrix" in body
    assert "Traceback" not in body and "Something went wrong" not in body
    shot(page, "accuracy.png")
    page.close()


def test_retrieval_page_in_chromium(app_url, browser):
    page = open_page(browser, f"{app_url}/retrieval", "Does combining help?", height=2800)
    body = page.inner_text("body")
    assert "Nearest by block" in body and "Combined" in body
    assert count(page, "[data-testid='stImage'] img", 25) >= 1 + 3 * 8  # query + three rows
    assert "Traceback" not in body and "Something went wrong" not in body
    shot(page, "retrieval.png")
    page.close()
