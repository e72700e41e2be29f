"""The reliability catalogue (issue 10), dashboard part: data root, caps, bad files on the page, a
dataset changed under the app, permalinks with markdown (AppTest and Chromium)."""
from __future__ import annotations

import os
import re

import pytest

from tests.reliability.fixtures import bad_files, good_folder

# ------------------------------------------------------------------------------------------------
# The dashboard (AppTest): data root, caps, bad files on the page, a dataset changed under the
# app, permalinks with markdown
# ------------------------------------------------------------------------------------------------
FOLDER = "image folder or CSV…"


def _texts(at) -> str:
    parts = [e.value for e in at.error] + [w.value for w in at.warning] + [m.value for m in at.markdown]
    parts += [c.value for c in at.caption] + [str(e.value) for e in at.exception]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(parts)


@pytest.fixture()
def app_root(tmp_path, monkeypatch):
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("LAYERSCOPE_DATA_ROOT", str(root))
    return root


def test_app_refuses_folders_csvs_and_weights_outside_the_data_root(app_root, tmp_path):
    from tests.apptest_util import run_page

    secret = good_folder(tmp_path / "secret")
    (secret / "api_keys.txt").write_text("hunter2")
    for path in ("/etc", str(secret), str(app_root / ".." / "secret")):
        at = run_page(dataset=FOLDER, data_path=path)
        text = _texts(at)
        assert not at.exception and "outside the data root" in text
        assert "passwd" not in text and "api_keys" not in text and "red0.png" not in text
    at = run_page(model_custom="resnet18", weights_source="local weights file", weights="/etc/hostname")
    assert not at.exception and any("weights file is outside the data root" in e.value for e in at.error)


def test_app_caps_generated_sets_and_model_size_before_allocating(app_root):
    from tests.apptest_util import run_page

    at = run_page(dataset=FOLDER, data_path="garments:n=3,size=6000")
    assert not at.exception and any("LAYERSCOPE_MAX_SIZE" in e.value for e in at.error)
    at = run_page(model_custom="vit_huge_patch14_224", weights_source="random weights (no download, untrained)")
    assert not at.exception and any("above this server's cap" in e.value for e in at.error)


def test_data_page_shows_a_folder_of_broken_images_without_crashing(app_root):
    from tests.apptest_util import run_page

    bad_files(app_root / "ds" / "green")
    good_folder(app_root / "ds", per_class=2)
    at = run_page(dataset=FOLDER, data_path=str(app_root / "ds"))
    assert not at.exception and not at.error
    assert any("Dataset · ds" == s.value for s in at.subheader)
    assert len(at.get("image")) == 3  # one gallery per class, broken files as grey tiles


def test_a_dataset_changed_under_the_app_is_reopened(app_root):
    from tests.apptest_util import run_page

    good_folder(app_root / "ds")
    at = run_page(dataset=FOLDER, data_path=str(app_root / "ds"))
    assert not at.exception and "10 images" in _texts(at)
    (app_root / "ds" / "red" / "red0.png").unlink()
    at.run()
    assert not at.exception and not at.error and "9 images" in _texts(at)


def _permalink_page():
    import streamlit as st

    from dashboard.links import parse_unit_link
    from dashboard.query import warn_ignored

    params = {k: st.query_params.get(k) for k in ("block", "channel", "label")}
    warn_ignored(parse_unit_link(params, [16, 24, 40], ["colour"]).problems)


def test_permalink_values_are_echoed_as_plain_text_never_markdown():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_permalink_page)
    at.query_params["block"] = "[click here to re-login](https://evil.example/login)"
    at.query_params["label"] = "![x](https://evil.example/pixel.png) <img src=x> www.evil.example"
    at.run()
    assert not at.exception and len(at.warning) == 1
    body = at.warning[0].value
    assert "click here to re" in body  # still said, so the user sees what was ignored
    echoed = body[body.index("ignored: ") + len("ignored: "):-1]  # without the closing full stop
    assert re.search(r"(?<!\\)[\[\]()!<>:.]", echoed) is None  # no link, image, tag or autolink can form
    assert "https\u200b\\:" in echoed and "www\u200b\\.evil" in echoed  # no autolink can form either


PERMALINK_PAGE = """
import streamlit as st
from dashboard.links import parse_unit_link
from dashboard.query import warn_ignored
warn_ignored(parse_unit_link({k: st.query_params.get(k) for k in ("block", "label")}, [16], ["colour"]).problems)
st.write("page done")
"""


def test_permalink_with_markdown_renders_no_link_and_fetches_nothing_in_chromium(tmp_path, browser):
    import signal
    import subprocess
    import sys
    import time
    import urllib.parse
    import urllib.request

    from tests.browser import ARTIFACTS, REPO, chromium_available, free_port

    if not chromium_available():
        pytest.skip("Chromium not installed (test.sh installs it)")

    (tmp_path / "page.py").write_text(PERMALINK_PAGE)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(tmp_path / "page.py"), "--server.headless",
                             "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
                            env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        query = urllib.parse.urlencode({"block": "[click here to re-login](https://evil.example/login)",
                                        "label": "![x](https://evil.example/p.png) <img src=x> www.evil.example"})
        external = []
        # The session's one Chromium (a second sync Playwright in the same process would clash with it).
        page = browser.new_page()
        try:
            page.on("request", lambda r: external.append(r.url) if "127.0.0.1" not in r.url else None)
            page.goto(f"http://127.0.0.1:{port}/?{query}")
            page.get_by_text("page done").wait_for(timeout=120_000)
            alert = page.locator('[data-testid="stAlert"]')
            text = alert.inner_text().replace("\u200b", "")
            links, images = alert.locator("a").count(), alert.locator("img").count()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "reliability_permalink.png"))
        finally:
            page.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
    assert "[click here to re-login](https://evil.example/login)" in text  # shown literally
    assert links == 0 and images == 0 and external == []
