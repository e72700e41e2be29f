"""The "Which model?" pages and the label-noise / trained-head pages in a real headless Chromium
(run.sh), opened by deep links on the 200-image demo set so a cold cache computes in seconds.
Screenshots: artifacts/compare.png, cka.png, flags.png, heads.png."""
from tests.browser import ARTIFACTS, wait_for_app

SLOW_MS = 900_000  # a cold cache extracts lite1 and computes block reports on 2 cores
DEMO = "data=garments:n%3D200&label=colour"


def clean(page) -> str:
    body = page.inner_text("body")
    assert "Traceback" not in body and "Something went wrong" not in body, body[:2000]
    assert "Part of the link was ignored" not in body, body[:2000]
    return body


def compute_if_asked(page, button: str) -> None:
    """Click the page's compute/train button when the cache does not have the result yet."""
    b = page.get_by_role("button", name=button)
    if b.count():
        b.first.click()


def test_compare_page_shows_one_curve_per_model_and_the_best_block(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{app_url}/compare?{DEMO}&models=efficientnet_lite0,efficientnet_lite1&labels=colour,pattern")
    wait_for_app(page, "Compare models", SLOW_MS)
    compute_if_asked(page, "Compute descriptors for")
    wait_for_app(page, "Cost per model", SLOW_MS)
    body = clean(page)
    assert "Best for `colour` by kNN" in body or "Best for colour by kNN" in body
    assert "block 1" in body.split("Best for")[1][:200]  # colour is best at block 1 on the demo set
    assert page.locator(".js-plotly-plot").count() >= 2  # one curve chart per label column
    legend = page.locator(".js-plotly-plot").first.inner_text()
    assert "efficientnet_lite0" in legend and "efficientnet_lite1" in legend
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
    page.close()


def test_cka_page_draws_both_heatmaps(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{app_url}/cka?{DEMO}&vs=efficientnet_lite1")
    wait_for_app(page, "CKA: block similarity", SLOW_MS)
    compute_if_asked(page, "Compute")
    page.get_by_text("vs efficientnet_lite1", exact=False).first.wait_for(timeout=SLOW_MS)
    wait_for_app(page, "vs efficientnet_lite1", SLOW_MS)
    clean(page)
    assert page.locator(".js-plotly-plot").count() == 2
    page.screenshot(path=str(ARTIFACTS / "cka.png"), full_page=True)
    page.close()


def test_flags_page_ranks_images_with_their_neighbours(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{app_url}/flags?{DEMO}&block=1&k=5&top=4")
    wait_for_app(page, "A flag is a reason to look", SLOW_MS)
    body = clean(page)
    assert body.count("(flagged)") == 4  # top=4 from the link, each with its neighbours' thumbnails
    assert page.get_by_role("combobox", name="Block").input_value().startswith("block 1")
    page.screenshot(path=str(ARTIFACTS / "flags.png"), full_page=True)
    page.close()


def test_heads_page_trains_and_says_whether_the_best_block_moves(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{app_url}/heads?{DEMO}&epochs=5")
    wait_for_app(page, "Trained heads", SLOW_MS)
    compute_if_asked(page, "Train the heads")
    wait_for_app(page, "Best training-free", SLOW_MS)
    body = clean(page)
    assert "the same best block" in body or "moves" in body
    assert page.locator(".js-plotly-plot").count() == 1
    page.screenshot(path=str(ARTIFACTS / "heads.png"), full_page=True)
    page.close()
