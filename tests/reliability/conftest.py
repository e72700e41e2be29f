"""Fixtures of the reliability catalogue."""
from __future__ import annotations

import pytest


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """A private cache per test: entries of one case never satisfy another."""
    root = tmp_path / "cache"
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(root))
    return root
