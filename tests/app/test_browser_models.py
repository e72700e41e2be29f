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


def compute_if_asked(page, button: str, result: str) -> None:
    """Wait until the page shows `result` or asks for `button` (the cache does not have the result
    yet); click it in the second case, then wait for the result."""
    b = page.get_by_role("button", name=button)
    page.get_by_text(result, exact=False).first.or_(b.first).wait_for(timeout=SLOW_MS)
    if b.count():
        b.first.click()
    wait_for_app(page, result, SLOW_MS)


def open_view(app_url: str, browser, query: str, result: str, button: str | None = None, height: int = 1400):
    """A fresh tab on `query` (a deep link); presses `button` if the cache lacks the result; returns
    (page, body text) once `result` is shown and the run has finished without an error."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(f"{app_url}/{query}")
    if button:
        compute_if_asked(page, button, result)
    else:
        wait_for_app(page, result, SLOW_MS)
    return page, clean(page)


def shoot_plots(page, n: int, name: str) -> None:
    """Wait until plotly has mounted exactly n charts and drawn them, then screenshot the page."""
    page.locator(".js-plotly-plot").nth(n - 1).wait_for(timeout=60_000)
    assert page.locator(".js-plotly-plot").count() == n
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.close()


def test_compare_page_shows_one_curve_per_model_and_the_best_block(app_url, browser):
    page, body = open_view(app_url, browser, f"compare?{DEMO}&models=efficientnet_lite0,efficientnet_lite1"
                           "&labels=colour,pattern", "Cost per model", "Compute descriptors for", height=1600)
    assert "Best for `colour` by kNN" in body or "Best for colour by kNN" in body
    assert "block 1" in body.split("Best for")[1][:200]  # colour is best at block 1 on the demo set
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=60_000)  # one curve chart per label column
    legend_text = page.locator(".js-plotly-plot").first.locator("text.legendtext")
    legend_text.nth(1).wait_for(state="attached", timeout=60_000)  # plotly draws the legend after mounting
    legend = " ".join(legend_text.all_text_contents())
    assert "efficientnet_lite0" in legend and "efficientnet_lite1" in legend
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
    page.close()


def test_cka_page_draws_both_heatmaps(app_url, browser):
    page, _ = open_view(app_url, browser, f"cka?{DEMO}&vs=efficientnet_lite1", "Most similar block of",
                        "Compute descriptors for", height=1200)
    shoot_plots(page, 2, "cka.png")


def test_flags_page_ranks_images_with_their_neighbours(app_url, browser):
    page, _ = open_view(app_url, browser, f"flags?{DEMO}&block=1&k=5&top=4", "A flag is a reason to look",
                        height=1600)
    # top=4 from the link: one picture per flag, the flagged image and its 5 neighbours with their captions
    pictures = page.locator("[data-testid='stImage'] img")
    pictures.nth(3).wait_for(timeout=60_000)  # images mount after the page's text
    assert pictures.count() == 4
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=60_000)
    assert [img.evaluate("i => i.naturalWidth") for img in pictures.all()] == [6 * 80 + 5 * 4] * 4  # 6 tiles
    body = clean(page)
    assert body.count("(flagged), then its 5 nearest neighbours") == 4
    assert page.get_by_role("combobox", name="Block").input_value().startswith("block 1")
    page.screenshot(path=str(ARTIFACTS / "flags.png"), full_page=True)
    page.close()


def test_heads_page_trains_and_says_whether_the_best_block_moves(app_url, browser):
    page, body = open_view(app_url, browser, f"heads?{DEMO}&epochs=5", "Best training-free", "Train the heads")
    assert "the same best block" in body or "moves" in body
    shoot_plots(page, 1, "heads.png")
