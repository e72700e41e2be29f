"""The layout pages in a real headless Chromium on the built-in 1000-image garments (run.sh):
the GridCut picture is drawn, a click shows the image, the selection follows to the UMAP page.
Screenshots: artifacts/gridcut_block2.png, gridcut_block1.png, gridcut_click.png, umap.png."""
import io

import numpy as np
from PIL import Image

from tests.browser import ARTIFACTS, wait_for_app


def colourful(png: bytes) -> tuple[int, float]:
    """(distinct colours, pixel std) of a screenshot: a drawn grid of photos has thousands."""
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return len(np.unique(a.reshape(-1, 3), axis=0)), float(a.std())


def test_gridcut_and_umap_pages_in_chromium(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{app_url}/gridcut")
    wait_for_app(page, "Download the grid")  # appears once the composite is drawn
    body = page.inner_text("body")
    assert "Traceback" not in body and "Something went wrong" not in body
    assert "Neighbourhood preservation" in body and "Exact assignment" in body
    assert "32 × 32 cells for 1000 images" in body
    # The composite is an SVG <image> inside the plotly chart, fed from a data URI; plotly
    # draws it a moment after the page's text (seconds on a loaded machine).
    page.wait_for_selector(".js-plotly-plot image", state="attached", timeout=60_000)
    href = page.locator(".js-plotly-plot image").first.get_attribute("href")
    # 1024 px for 1000 images (32-px cells by default): shown as a JPEG data URI, see pictures.display_uri
    assert href and href.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) and len(href) > 100_000
    plot = page.locator(".js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    n_colours, std = colourful(plot.screenshot(path=str(ARTIFACTS / "gridcut_block2.png")))
    assert n_colours > 2000 and std > 30, "the grid picture looks blank"

    # The PNG is made when the button is clicked: the whole grid at the chosen cell size, legend below.
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="Download the grid (PNG, with legend)").click()
    png = Image.open(dl.value.path())
    assert png.format == "PNG" and png.width == 32 * 32 and png.height > 32 * 32
    wait_for_app(page, "Download the grid")

    # Block 1, coloured by the colour label: borders should form visible regions.
    page.locator("[data-testid='stRadio']").first.get_by_text("block 1", exact=True).click()
    wait_for_app(page, "· block 1 · UMAP")
    plot = page.locator(".js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    plot.screenshot(path=str(ARTIFACTS / "gridcut_block1.png"))

    # Click a cell: its image and labels appear below the grid.
    drag = page.locator(".js-plotly-plot .nsewdrag").first
    box = drag.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4)
    wait_for_app(page, "1 image(s) selected")
    assert page.locator("[data-testid='stImage'] img").count() >= 1
    page.get_by_text("1 image(s) selected").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "gridcut_click.png"))

    # Same session, other page: the selection is linked.
    page.locator("[data-testid='stSidebarNav']").get_by_text("UMAP", exact=True).click()
    wait_for_app(page, "All blocks side by side")
    body = page.inner_text("body")
    assert "Traceback" not in body and "Something went wrong" not in body
    assert "1 image(s) selected" in body
    assert "block 1 · 1000 images" in body  # the block chosen on the GridCut page
    charts = page.locator(".js-plotly-plot")
    assert charts.count() == 2
    assert charts.first.locator("path.point").count() >= 1000  # every image drawn (+ the ring)
    page.screenshot(path=str(ARTIFACTS / "umap.png"))
    page.close()
