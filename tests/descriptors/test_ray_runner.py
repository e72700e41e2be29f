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
    from analysis.descriptors import ray_runner
    from analysis.descriptors.extract import extract
    from analysis.descriptors.ray_runner import extract_ray
    from analysis.descriptors.store import entry_dir

    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "local"))
    local = extract(lite0, data, batch_size=16, precision="fp32", engine="torch")
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "ray"))
    monkeypatch.setattr(ray_runner, "SHARD_ROWS", 16)  # 3 shards
    final = entry_dir(lite0, data)
    assert final.name == local.path.name  # the same cache entry (key)

    seen = []

    def stop_after_first_shard(done, n, note=""):
        seen.append(done)
        if len(seen) == 1:
            raise KeyboardInterrupt  # cancelled mid-way: finished shards are kept

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(KeyboardInterrupt):
            extract_ray(lite0, data, batch_size=16, progress=stop_after_first_shard)
        partial = json.loads((final.with_name(final.name + ".partial") / "progress.json").read_text())
        assert len(partial["shards_done"]) >= 1
        remaining = []
        store = extract_ray(lite0, data, batch_size=16, progress=lambda d, n, note="": remaining.append(d))
    finally:
        ray.shutdown()
    assert remaining[0] > 16  # the resumed run started after the shard(s) already done
    assert store.n == local.n and store.paths == local.paths
    assert store.labels.equals(local.labels)
    assert store.manifest["provenance"]["runner"] == "ray"
    for b in local.blocks:
        diff = np.abs(np.asarray(store.descriptors(b.index)) - np.asarray(local.descriptors(b.index))).max()
        assert diff <= 1e-4, f"{b.name}: max abs difference {diff}"
