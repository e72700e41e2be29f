"""Channel explorer and unit card in real headless Chromium on the built-in 1000 garments.

Screenshots go to artifacts/channels_*.png and artifacts/unit_card.png (look at them).
The first run computes the mask quantiles and 64-step AM previews into the app's cache (CPU:
tens of seconds); later runs read them from disk.
"""
from tests.browser import ARTIFACTS, wait_for_app

TIMEOUT = 480_000  # first AM preview on a busy 2-core CPU


def _drawn_images(page, at_least: int) -> list[int]:
    """naturalWidth of every st.image <img>, once at least `at_least` are there and all decoded."""
    try:
        page.wait_for_function(
            """n => { const els = [...document.querySelectorAll("[data-testid='stImage'] img")];
                      return els.length >= n && els.every(e => e.complete && e.naturalWidth > 0); }""",
            arg=at_least, timeout=60_000)
    except Exception:  # noqa: BLE001 - the assertion below says what was found
        pass
    return page.eval_on_selector_all("[data-testid='stImage'] img", "els => els.map(e => e.naturalWidth)")


def _check(page) -> str:
    body = page.inner_text("body")
    assert "Traceback" not in body and "Something went wrong" not in body
    return body


def test_channel_explorer_draws_cams_masks_and_am(app_url, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    # Image #2 of the built-in set: a purple polka-dot t-shirt on a grey background.
    page.goto(f"{app_url}/channels?image=2")
    wait_for_app(page, "random-order baseline", TIMEOUT)
    body = _check(page)
    for text in ("Grad-CAM · block 5", "EigenCAM · block 5", "Faithfulness", "insertion AUC"):
        assert text in body, text
    widths = _drawn_images(page, 3)
    assert len(widths) >= 3 and all(w > 0 for w in widths), widths  # input + 2 CAM overlays, all decoded
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)  # plotly draws after the text, later under load
    assert page.locator(".js-plotly-plot").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "channels_cam.png"), full_page=True)

    page.goto(f"{app_url}/channels?image=2&block=3&view=masks")
    wait_for_app(page, "fire most for this image", TIMEOUT)
    body = _check(page)
    for text in ("receptive fields ·", "upsample + threshold", "Inspect channel"):
        assert text in body, text
    widths = _drawn_images(page, 4 + 8)
    assert len(widths) >= 4 + 8 and all(w > 0 for w in widths), widths
    page.screenshot(path=str(ARTIFACTS / "channels_masks.png"), full_page=True)
    page.get_by_role("button", name="Inspect channel").nth(1).click()  # a top channel's button
    wait_for_app(page, "fire most for this image", TIMEOUT)
    _check(page)

    page.goto(f"{app_url}/channels?image=2&block=4&view=am")
    wait_for_app(page, "Preview: 64 steps", TIMEOUT)
    body = _check(page)
    assert "dataset max" in body
    widths = _drawn_images(page, 2)
    assert len(widths) >= 2 and all(w > 0 for w in widths), widths
    page.screenshot(path=str(ARTIFACTS / "channels_am.png"), full_page=True)
    page.close()


def test_unit_card_permalink_in_chromium(app_url, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    page.goto(f"{app_url}/unit_card?block=3&channel=17&label=pattern")
    wait_for_app(page, "Top images (CSV)", TIMEOUT)
    body = _check(page)
    assert "block 3 · channel 17" in body and "Class selectivity (pattern)" in body
    assert "unit_card?block=3&channel=17&label=pattern" in body  # the permalink text
    widths = _drawn_images(page, 3 * 9 + 2)
    assert len(widths) >= 3 * 9 + 2 and all(w > 0 for w in widths), widths
    assert page.locator(".js-plotly-plot").count() >= 2
    assert "channel=17" in page.url
    page.screenshot(path=str(ARTIFACTS / "unit_card.png"), full_page=True)
    page.close()
