"""Shared fixtures. Unit tests use a private cache folder; the browser test uses the app's own."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("LAYERSCOPE_TEST_CACHE", str(REPO / "cache" / "_tests"))
os.environ["LAYERSCOPE_CACHE"] = os.environ["LAYERSCOPE_TEST_CACHE"]
os.environ.setdefault("LAYERSCOPE_DEVICE", "cpu")  # tests are about behaviour, not the GPU


@pytest.fixture(scope="session")
def lite0():
    """The built-in real ImageNet model (offline), loaded once."""
    from analysis.models import load_model

    return load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def small_garments():
    from analysis.data import open_dataset

    return open_dataset("garments:n=40,size=128,seed=3")


@pytest.fixture(scope="session")
def small_store(lite0, small_garments):
    from analysis.extract import extract

    return extract(lite0, small_garments, batch_size=16)
