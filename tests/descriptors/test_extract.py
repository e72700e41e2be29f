import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from analysis.data.datasets import open_folder
from analysis.descriptors.extract import cache_status, extract
from analysis.descriptors.store import clear_entries, entry_dir, list_entries, open_entry
from analysis.errors import LayerScopeError


def test_descriptors_equal_the_gap_of_each_block(lite0, small_store, small_garments):
    x = torch.stack([lite0.preprocess(Image.open(p)) for p in small_garments.paths[:3]])
    maps = lite0.block_maps(x)
    for b in lite0.blocks:
        ref = maps[b.index].mean(dim=(2, 3)).numpy()
        got = np.asarray(small_store.descriptors(b.index)[:3])
        cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
        assert cos.min() >= 0.999, (b, cos)


def test_store_is_memory_mapped_read_only_with_labels(small_store, small_garments):
    arr = small_store.descriptors(2)
    assert isinstance(arr, np.memmap) and not arr.flags.writeable
    assert arr.shape == (40, small_store.blocks[1].channels) and arr.dtype == np.float32
    assert list(small_store.labels["colour"]) == list(small_garments.labels["colour"])
    prov = small_store.manifest["provenance"]
    assert prov["device"] == "cpu" and prov["dtype"] in ("fp32", "bfloat16")


def test_second_extraction_reuses_the_cache(lite0, small_garments, small_store, monkeypatch):
    import analysis.descriptors.extract as ex

    monkeypatch.setattr(ex, "_batches", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    assert extract(lite0, small_garments).path == small_store.path


def test_changed_dataset_never_serves_old_descriptors(lite0, small_garments, tmp_path):
    root = tmp_path / "ds"
    for i, p in enumerate(small_garments.paths[:6]):
        (root / small_garments.labels["colour"][i]).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, root / small_garments.labels["colour"][i] / f"{i}.png")
    ds = open_folder(root)
    first = extract(lite0, ds)
    victim = sorted(root.rglob("*.png"))[0]
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(victim)
    ds2 = open_folder(root)
    assert entry_dir(lite0, ds2) != first.path
    assert cache_status(lite0, ds2)[0] == "missing"
    second = extract(lite0, ds2)
    i = second.paths.index(str(victim))
    assert not np.allclose(first.descriptors(5)[i], second.descriptors(5)[i])


def test_corrupted_cache_file_is_detected_and_recomputed(lite0, small_garments, tmp_path):
    ds = small_garments.subset(np.arange(8))
    store = extract(lite0, ds)
    f = store.path / "block_3.npy"
    raw = bytearray(f.read_bytes())
    raw[-8:] = b"\x00\x01\x02\x03\x04\x05\x06\x07"
    f.write_bytes(bytes(raw))
    again, problem = open_entry(store.path)
    assert again is None and "checksum" in problem
    fresh = extract(lite0, ds)
    assert fresh.verify() is None


def test_interrupted_run_resumes_from_the_last_batch(lite0, small_garments):
    ds = small_garments.subset(np.arange(12, 24))
    calls = []

    def stop_after_first(done, total):
        calls.append(done)
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract(lite0, ds, batch_size=4, progress=stop_after_first)
    status, _, note = cache_status(lite0, ds)
    assert status == "partial" and note.startswith("4 of 12")
    seen = []
    store = extract(lite0, ds, batch_size=4, progress=lambda d, n: seen.append(d))
    assert seen == [8, 12]  # started after the finished batch
    ref = extract(lite0, ds.subset(np.arange(12)), batch_size=12)  # same images: same cache entry
    assert ref.path == store.path


def test_unreadable_images_are_left_out_and_listed(lite0, tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        Image.new("RGB", (50, 50), (200, 10, 10) if c == "a" else (10, 10, 200)).save(tmp_path / c / "ok.png")
    (tmp_path / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    store = extract(lite0, open_folder(tmp_path))
    assert store.n == 2 and len(store.failures) == 1 and "broken.png" in store.failures[0]["path"]
    assert np.isfinite(store.descriptors(1)).all()


def test_hooks_are_removed_after_extraction(lite0, small_store):
    assert all(not m._forward_hooks for m in lite0.net.modules())


def test_pooler_handles_token_outputs():
    from analysis.descriptors.extract import gap

    assert gap(torch.ones(2, 5, 7)).shape == (2, 7) and gap(torch.ones(2, 7, 3, 3)).shape == (2, 7)


def test_cache_list_and_clear(small_store):
    table = list_entries()
    assert small_store.path.name in set(table["entry"])
    with pytest.raises(LayerScopeError):
        clear_entries("no-such-entry")


def test_manifest_is_json_and_has_no_pickle(small_store):
    import pandas as pd

    m = json.loads((small_store.path / "manifest.json").read_text())
    assert m["n"] == 40 and "paths" not in m and m["rows"]["file"] == "rows.parquet"
    rows = pd.read_parquet(small_store.path / "rows.parquet")  # paths + labels: Parquet, not pickle
    assert len(rows) == 40 and {"path", "label:colour", "label:pattern"} <= set(rows.columns)
    for b in range(1, len(small_store.blocks) + 1):
        np.load(small_store.path / f"block_{b}.npy", allow_pickle=False)
