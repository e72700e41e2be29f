"""The entry format: paths and labels in rows.parquet (checked like the arrays), the manifest small,
entries of the old all-JSON format still served."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pandas as pd
import pytest

from analysis.atomic import write_json_atomic
from analysis.descriptors.store import ROWS_FILE, Store, file_sha256, open_entry, read_rows, write_manifest


def _entry(tmp_path, n=30, paths=None, labels=None, version=2):
    """A complete entry with two blocks, written as extract() writes it (or as version 1 did)."""
    rng = np.random.default_rng(1)
    path = tmp_path / "m__d__0123456789abcdef"
    path.mkdir(parents=True)
    arrays = []
    for i, c in enumerate((4, 6), start=1):
        np.save(path / f"block_{i}.npy", rng.standard_normal((n, c)).astype(np.float32))
        arrays.append({"file": f"block_{i}.npy", "sha256": file_sha256(path / f"block_{i}.npy")})
    manifest = {"manifest_version": version, "n": n, "arrays": arrays, "failures": [], "provenance": {},
                "blocks": [{"index": i, "module": f"b{i}", "channels": c, "stride": 1} for i, c in ((1, 4), (2, 6))],
                "paths": paths or [f"/data/c{i % 3}/img_{i}.png" for i in range(n)],
                "labels": labels or {"colour": [f"c{i % 3}" for i in range(n)], "size": [str(i % 2) for i in range(n)]}}
    if version == 1:
        write_json_atomic(path / "manifest.json", manifest)
    else:
        write_manifest(path, manifest)
    return path, manifest


def test_new_entries_keep_paths_and_labels_in_parquet_and_read_them_back(tmp_path):
    path, written = _entry(tmp_path)
    m = json.loads((path / "manifest.json").read_text())
    assert "paths" not in m and "labels" not in m and m["rows"]["sha256"] == file_sha256(path / ROWS_FILE)
    store, problem = open_entry(path)
    assert problem is None
    assert store.paths == written["paths"]
    pd.testing.assert_frame_equal(store.labels, pd.DataFrame(written["labels"]), check_dtype=False)
    assert store.n == 30 and [b.channels for b in store.blocks] == [4, 6]


def test_old_json_entries_still_open_with_the_same_paths_labels_and_descriptors(tmp_path):
    old_path, written = _entry(tmp_path / "old", version=1)
    new_path, _ = _entry(tmp_path / "new")
    old, problem = open_entry(old_path)
    assert problem is None and old.manifest["manifest_version"] == 1
    new, _ = open_entry(new_path)
    assert old.paths == new.paths == written["paths"]
    pd.testing.assert_frame_equal(old.labels, new.labels, check_dtype=False)
    np.testing.assert_array_equal(old.descriptors(2), new.descriptors(2))


def test_a_corrupted_rows_table_is_detected_removed_and_named(tmp_path):
    path, _ = _entry(tmp_path)
    f = path / ROWS_FILE
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    f.write_bytes(bytes(raw))
    store, problem = open_entry(path)
    assert store is None and "rows.parquet" in problem and "checksum" in problem
    assert not path.exists()  # never served: recomputed next time


def test_a_missing_or_short_rows_table_is_caught_even_without_checksums(tmp_path):
    path, _ = _entry(tmp_path / "a")
    (path / ROWS_FILE).unlink()
    store, problem = open_entry(path, verify=False)
    assert store is None and "rows.parquet is missing" in problem
    path, written = _entry(tmp_path / "b")
    from analysis.descriptors.store import write_rows

    write_rows(path / ROWS_FILE, written["paths"][:5], {"colour": written["labels"]["colour"][:5]})
    store, problem = open_entry(path, verify=False)
    assert store is None and "has 5 rows, expected 30" in problem


def test_non_utf8_paths_and_a_label_called_path_round_trip(tmp_path):
    odd = os.fsdecode(b"/data/caf\xe9/img.png")  # a Latin-1 file name: surrogate-escaped, not UTF-8
    paths = [odd, "/data/ok/b.png", "/data/ok/c.png"]
    labels = {"path": ["x", "y", "z"], "colour": ["r", "g", "b"]}
    path, _ = _entry(tmp_path, n=3, paths=paths, labels=labels)
    got_paths, got_labels = read_rows(path / ROWS_FILE)
    assert got_paths == paths and os.fsencode(got_paths[0]) == b"/data/caf\xe9/img.png"
    assert list(got_labels.columns) == ["path", "colour"] and got_labels["path"].tolist() == ["x", "y", "z"]


def test_editing_the_labels_a_store_returns_does_not_change_the_store(tmp_path):
    path, written = _entry(tmp_path)
    store, _ = open_entry(path)
    labels = store.labels
    labels.loc[0, "colour"] = "edited"
    labels["new"] = "x"
    assert store.labels["colour"][0] == written["labels"]["colour"][0] and "new" not in store.labels
    paths = store.paths
    paths[0] = "edited"
    assert store.paths[0] == written["paths"][0]


def test_stores_built_in_memory_still_work(tmp_path):
    """Store(path, manifest) with inline paths and labels (how tests and tools build one)."""
    path = tmp_path / "e"
    path.mkdir()
    np.save(path / "block_1.npy", np.ones((2, 3), np.float32))
    s = Store(path, {"n": 2, "blocks": [{"index": 1, "module": "m", "channels": 3, "stride": 1}],
                     "arrays": [{"file": "block_1.npy", "sha256": ""}], "paths": ["a", "b"], "labels": {"k": ["0", "1"]}})
    assert s.paths == ["a", "b"] and s.labels["k"].tolist() == ["0", "1"] and s.verify(full=False) is None


@pytest.mark.parametrize("n", [2_000, 20_000])
def test_synthetic_manifest_size_does_not_grow_with_rows(tmp_path, monkeypatch, n):
    from analysis.descriptors.synthetic import synthetic_store

    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path))
    store = synthetic_store(n, d=8, n_classes=10)
    assert (store.path / "manifest.json").stat().st_size < 2_000  # a million rows were 30 MB of JSON
    assert len(store.paths) == n and store.paths[n - 1] == f"synthetic/{n - 1}"
    assert store.labels["class"].nunique() == 10 and len(store.labels) == n


def _age(path, seconds=3600):
    """Files last written an hour ago: outside the hash cache's racy window."""
    for f in path.iterdir():
        os.utime(f, (time.time() - seconds, time.time() - seconds))


def test_checksums_are_read_once_per_unchanged_file_and_a_rewrite_is_caught(tmp_path, monkeypatch):
    from analysis.data import hash_cache

    monkeypatch.setattr(hash_cache, "_TABLES", {})
    reads = []
    real = hash_cache.file_digest
    monkeypatch.setattr(hash_cache, "file_digest", lambda p, n=16: (reads.append(os.path.basename(p)), real(p, n))[1])
    path, _ = _entry(tmp_path)
    _age(path)
    assert open_entry(path)[1] is None and sorted(reads) == ["block_1.npy", "block_2.npy", ROWS_FILE]
    hash_cache._TABLES.clear()  # a new process: the table comes from disk
    reads.clear()
    assert open_entry(path)[1] is None and reads == []  # nothing of the entry read again
    f = path / "block_2.npy"
    raw = bytearray(f.read_bytes())
    raw[-4:] = b"\x00\x00\xc0\x7f"  # the last value becomes NaN, same size
    f.write_bytes(bytes(raw))
    store, problem = open_entry(path)
    assert store is None and "block_2.npy does not match its checksum" in problem


def test_without_trusting_stats_every_checksum_is_read_again(tmp_path, monkeypatch):
    from analysis.data import hash_cache

    monkeypatch.setattr(hash_cache, "_TABLES", {})
    path, _ = _entry(tmp_path)
    _age(path)
    assert open_entry(path)[1] is None
    reads = []
    real = hash_cache.file_digest
    monkeypatch.setattr(hash_cache, "file_digest", lambda p, n=16: (reads.append(p), real(p, n))[1])
    monkeypatch.setattr(hash_cache, "_TRUST_STATS", [False])
    assert open_entry(path)[1] is None and len(reads) == 3
