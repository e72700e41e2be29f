"""The Tour, Clustering and Class profiles in a real headless Chromium on the built-in data (run.sh)."""
import re

from tests.browser import ARTIFACTS, wait_for_app

SLOW_MS = 900_000  # a cold cache computes reports / maps (run.sh's precompute --warm makes it seconds)


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def clean(body: str) -> None:
    assert "Traceback" not in body and "Something went wrong" not in body


def test_tour_five_steps_next_and_previous(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{app_url}/tour")
    wait_for_app(page, "Step 1 of 5", timeout_ms=SLOW_MS)
    body = page.inner_text("body")
    assert re.search(r"block 1 sees \d+ px of the \d+ px input", body)
    clean(body)
    shot(page, "tour_step1.png")
    expected = {2: r"colour peaks at block \d \(kNN [01]\.\d\d", 3: r"\d of 8 share its pattern at block 1",
                4: r"channel \d+, the one whose pooled value depends most on colour", 5: r"for colour use block \d"}
    marker = {2: "Give every image's descriptor", 3: "nearest images in two blocks", 4: "One channel of",
              5: "For your own images"}  # text only that step has (the previous step's stays while it runs)
    for k in range(2, 6):
        page.get_by_role("button", name="Next →").click()
        wait_for_app(page, marker[k], timeout_ms=SLOW_MS)
        if k in (2, 5):  # the score curves
            page.locator(".js-plotly-plot").first.wait_for(timeout=SLOW_MS)
        if k in (2, 3, 4):  # the GridCut picture / the nearest images / the unit's images
            page.locator("[data-testid='stImage'] img").first.wait_for(timeout=SLOW_MS)
            page.wait_for_timeout(1500)
        body = page.inner_text("body")
        assert re.search(expected[k], body), (k, body[:2000])
        clean(body)
        shot(page, f"tour_step{k}.png")
    assert page.get_by_role("button", name="Next →").is_disabled()
    page.get_by_role("button", name="← Previous").click()
    wait_for_app(page, "Step 4 of 5", timeout_ms=SLOW_MS)
    page.close()


def test_clustering_and_profiles_pages(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 2600})
    page.goto(f"{app_url}/clustering")
    wait_for_app(page, "Each cluster's images", timeout_ms=SLOW_MS)
    body = page.inner_text("body")
    assert "Scores over blocks" in body and re.search(r"cluster \d+: \w+ \d+.*\(by colour\)", body)
    clean(body)
    shot(page, "clustering.png")
    page.goto(f"{app_url}/profiles")
    wait_for_app(page, "Open a top channel", timeout_ms=SLOW_MS)
    body = page.inner_text("body")
    links = page.get_by_role("link", name=re.compile(r"^ch \d+$"))
    links.nth(29).wait_for(timeout=60_000)  # under load the link rows mount after the heatmap
    assert links.count() == 30  # 10 colours x top 3, each to its unit card
    assert "unit_card" in (links.first.get_attribute("href") or "")
    clean(body)
    shot(page, "profiles.png")
    page.close()
