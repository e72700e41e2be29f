"""Extraction on Ray (local ray.init(num_cpus=2)) writes the same cache entry as the local extractor."""
from __future__ import annotations

import json

import numpy as np
import pytest

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def data():
    from analysis.data.datasets import open_dataset

    return open_dataset("garments:n=48,size=96")


def test_ray_extraction_equals_the_local_extractor_and_resumes_per_shard(lite0, data, tmp_path, monkeypatch):
    from analysis.descriptors import ray_runner, shards
    from analysis.descriptors.extract import extract
    from analysis.descriptors.ray_runner import extract_ray
    from analysis.descriptors.store import entry_dir

    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "local"))
    local = extract(lite0, data, batch_size=16, precision="fp32", engine="torch")
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "ray"))
    monkeypatch.setattr(ray_runner, "SHARD_ROWS", 16)  # 3 shards, each written by the actor that computed it
    final = entry_dir(lite0, data)
    assert final.name == local.path.name  # the same cache entry (key)

    seen, by_driver = [], []
    real = shards.ShardWriter.write
    monkeypatch.setattr(shards.ShardWriter, "write", lambda self, start, *a: by_driver.append(start) or real(self, start, *a))

    def stop_after_first_shard(done, n, note=""):
        seen.append(done)
        if len(seen) == 1:
            raise KeyboardInterrupt  # cancelled mid-way: finished shards are kept

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(KeyboardInterrupt):
            extract_ray(lite0, data, batch_size=16, progress=stop_after_first_shard)
        partial = final.with_name(final.name + ".partial")
        assert json.loads((partial / "progress.json").read_text())["runner"] == "ray"
        assert len(shards.done_shards(partial)) >= 1  # finished shards are marked on disk
        remaining = []
        store = extract_ray(lite0, data, batch_size=16, progress=lambda d, n, note="": remaining.append(d))
    finally:
        ray.shutdown()
    assert remaining[0] > 16  # the resumed run started after the shard(s) already done
    assert by_driver == []  # the actors see the partial entry: they wrote every shard themselves
    assert store.n == local.n and store.paths == local.paths
    assert store.labels.equals(local.labels)
    assert store.manifest["provenance"]["runner"] == "ray"
    for b in local.blocks:
        diff = np.abs(np.asarray(store.descriptors(b.index)) - np.asarray(local.descriptors(b.index))).max()
        assert diff <= 1e-4, f"{b.name}: max abs difference {diff}"


def test_ray_extraction_with_the_driver_writing_every_shard_gives_the_same_entry(lite0, data, tmp_path, monkeypatch):
    """writers="driver" (`--ray-writers driver`): the actors send their rows back (nodes without a
    shared cache folder) and the driver writes them."""
    from analysis.descriptors import ray_runner, shards
    from analysis.descriptors.extract import extract
    from analysis.descriptors.ray_runner import extract_ray
    from analysis.errors import LayerScopeError

    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "local"))
    local = extract(lite0, data, batch_size=16, precision="fp32", engine="torch")
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "ray"))
    monkeypatch.setattr(ray_runner, "SHARD_ROWS", 20)  # 3 shards, the last one shorter
    written = []
    real = shards.ShardWriter.write
    monkeypatch.setattr(shards.ShardWriter, "write", lambda self, start, *a: written.append(start) or real(self, start, *a))
    with pytest.raises(LayerScopeError, match="writers"):
        extract_ray(lite0, data, writers="everyone")
    # Through the CLI, as a user runs it: precompute --runner ray --ray-writers driver (a local Ray).
    from analysis.cli import main

    assert main(["precompute", "--data", "garments:n=48,size=96", "--runner", "ray", "--ray-writers", "driver",
                 "--batch-size", "8"]) == 0
    store = extract_ray(lite0, data)  # the finished entry: opened, nothing recomputed
    assert sorted(written) == [0, 20, 40]  # every shard went through the driver's writer (this process)
    for b in local.blocks:
        diff = np.abs(np.asarray(store.descriptors(b.index)) - np.asarray(local.descriptors(b.index))).max()
        assert diff <= 1e-4, f"{b.name}: max abs difference {diff}"
