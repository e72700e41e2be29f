"""Every view is a link, in a real headless Chromium on the built-in garments (run.sh): a deep link
opens the sidebar and the page with its values, a control change is written to the address, and the
sidebar's values survive a page switch. Screenshot: artifacts/deep_link_accuracy.png."""
from urllib.parse import parse_qs, urlparse

from tests.browser import ARTIFACTS, wait_for_app

SLOW_MS = 900_000  # a cold cache computes the page's cross-validation on 1000 images (2 cores)


def params(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(url).query).items()}


def test_deep_link_opens_accuracy_with_its_data_label_and_block(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{app_url}/accuracy?data=garments&label=pattern&block=2&metric=cosine")
    wait_for_app(page, "One block in detail", SLOW_MS)
    page.get_by_text("block 2 · ", exact=False).first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    assert "Traceback" not in body and "Something went wrong" not in body
    assert "Part of the link was ignored" not in body
    assert "predict pattern" in body  # the caption names the sidebar's label column
    # Selectbox values are the value of their combobox input.
    assert page.get_by_role("combobox", name="Label column").input_value() == "pattern"
    assert page.get_by_role("combobox", name="Dataset").input_value() == "garments (built-in, 1000 images)"
    assert page.get_by_role("combobox", name="Block").input_value().startswith("block 2 · ")  # not the best block (4)
    assert "(cosine)" in body  # "block 2 · <probe> (cosine): accuracy …"
    url = params(page.url)
    assert {k: url.get(k) for k in ("data", "label", "block", "metric")} == \
        {"data": "garments", "label": "pattern", "block": "2", "metric": "cosine"}
    assert url.get("model") == "efficientnet_lite0"  # the sidebar writes its whole selection
    page.get_by_text("One block in detail").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "deep_link_accuracy.png"), full_page=True)

    # A control change is written to the address.
    page.locator("[data-testid='stRadio']").filter(has_text="Distance").first.get_by_text("euclidean").click()
    page.wait_for_function("() => location.search.includes('metric=euclidean')", timeout=SLOW_MS)
    wait_for_app(page, "(euclidean)", SLOW_MS)
    assert params(page.url)["block"] == "2"

    # Another page: the page's own parameters go, the sidebar's selection stays in the address.
    page.locator("[data-testid='stSidebarNav']").get_by_text("Class profiles", exact=True).click()
    wait_for_app(page, "Top channels by", SLOW_MS)
    url = params(page.url)
    assert urlparse(page.url).path.endswith("/profiles")
    assert url.get("label") == "pattern" and url.get("data") == "garments" and "metric" not in url
    assert "Part of the link was ignored" not in page.inner_text("body")
    page.close()
