"""Parquet export: every row, label and descriptor comes back exactly, readable by pandas."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.descriptors.export import export_parquet, read_block
from analysis.descriptors.store import Store
from analysis.errors import LayerScopeError


@pytest.fixture()
def small_store(tmp_path):
    """A cache entry as extract() writes it: three blocks, paths, two label columns."""
    rng = np.random.default_rng(0)
    path = tmp_path / "m__d__0123456789abcdef"
    path.mkdir()
    n, widths = 37, (8, 16, 24)  # 37 rows: several row groups with ROWS_PER_GROUP patched to 10
    for i, c in enumerate(widths, start=1):
        np.save(path / f"block_{i}.npy", rng.standard_normal((n, c)).astype(np.float32))
    manifest = {"n": n, "blocks": [{"index": i, "module": f"b{i}", "channels": c, "stride": 1}
                                   for i, c in enumerate(widths, start=1)],
                "arrays": [{"file": f"block_{i}.npy", "sha256": ""} for i in range(1, 4)],
                "paths": [f"/data/img_{i}.png" for i in range(n)],
                "labels": {"garment": [f"g{i % 3}" for i in range(n)], "colour": [f"c{i % 5}" for i in range(n)]}}
    return Store(path, manifest)


@pytest.fixture(autouse=True)
def small_groups(monkeypatch):
    monkeypatch.setattr("analysis.descriptors.export.ROWS_PER_GROUP", 10)


def test_export_round_trips_paths_labels_and_every_block(small_store, tmp_path):
    out = export_parquet(small_store, tmp_path / "d.parquet")
    df = pd.read_parquet(out)
    assert len(df) == small_store.n
    assert df["path"].tolist() == small_store.paths
    for c in small_store.labels.columns:
        assert df[c].tolist() == small_store.labels[c].astype(str).tolist()
    for b in small_store.blocks:
        np.testing.assert_array_equal(read_block(out, b.index), np.asarray(small_store.descriptors(b.index)))
    assert np.asarray(df[f"block_{small_store.blocks[0].index}"].iloc[0]).shape == (small_store.blocks[0].channels,)


def test_export_of_chosen_blocks_and_bad_targets(small_store, tmp_path):
    out = export_parquet(small_store, tmp_path / "two.parquet", blocks=[1, 3])
    assert [c for c in pd.read_parquet(out).columns if c.startswith("block_")] == ["block_1", "block_3"]
    with pytest.raises(LayerScopeError, match="no block 99"):
        export_parquet(small_store, tmp_path / "x.parquet", blocks=[99])
    with pytest.raises(LayerScopeError, match="folder"):
        export_parquet(small_store, tmp_path)
    with pytest.raises(LayerScopeError, match="does not exist"):
        export_parquet(small_store, tmp_path / "missing" / "x.parquet")
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left behind
