"""Shared fixtures. Unit tests use a private cache folder; the browser test uses the app's own."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# A fresh cache per test session: no result of an earlier run can make a test pass or fail.
os.environ["LAYERSCOPE_CACHE"] = tempfile.mkdtemp(prefix="layerscope-tests-")
os.environ.setdefault("LAYERSCOPE_DEVICE", "cpu")  # tests are about behaviour, not the GPU
# The dashboard reads only under its data root: tests build their folders under the temp dir.
os.environ.setdefault("LAYERSCOPE_DATA_ROOT", tempfile.gettempdir())


@pytest.fixture(scope="session")
def lite0():
    """The built-in real ImageNet model (offline), loaded once."""
    from analysis.models.model import load_model

    return load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def small_garments():
    from analysis.data.datasets import open_dataset

    return open_dataset("garments:n=40,size=128,seed=3")


@pytest.fixture(scope="session")
def small_store(lite0, small_garments):
    from analysis.descriptors.extract import extract

    return extract(lite0, small_garments, batch_size=16)


@pytest.fixture(scope="session")
def app_url():
    """The app as the README starts it (bash run.sh), shared by every browser test."""
    from tests.browser import chromium_available, start_app, stop_app

    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: test.sh should have installed it")
        pytest.skip("Chromium not installed (test.sh installs it)")
    proc, url = start_app()
    yield url
    stop_app(proc)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for gradient-heavy test modules: on a shared 2-core machine, two
    threads under contention ran them about 5x slower. Restored afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def pytest_sessionfinish(session, exitstatus):
    import shutil

    shutil.rmtree(os.environ["LAYERSCOPE_CACHE"], ignore_errors=True)
