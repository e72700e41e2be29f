"""The on-disk hash cache: an unchanged image is read once; any change a stat can see is re-read;
what no stat can see is caught by verify."""
from __future__ import annotations

import hashlib
import os
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.data import hash_cache
from analysis.data.datasets import open_folder
from analysis.errors import LayerScopeError

HOUR_AGO = time.time() - 3600


def _folder(root, n=6):
    """n small 'images' in two classes, last written an hour ago (outside the racy window)."""
    for i in range(n):
        p = root / f"c{i % 2}" / f"img_{i}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(3000 + i))
        os.utime(p, (HOUR_AGO, HOUR_AGO))
    return root


def _expected_hash(ds) -> str:
    """Dataset.content_hash computed independently from the bytes on disk."""
    h = hashlib.sha256()
    for p in ds.paths:
        h.update(os.fsencode(p))
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).hexdigest()[:16].encode())
    h.update(ds.labels.to_csv(index=False).encode())
    return h.hexdigest()[:20]


@pytest.fixture()
def reads(monkeypatch):
    """Counts files actually read, and starts like a new process (nothing remembered in memory)."""
    monkeypatch.setattr(hash_cache, "_TABLES", {})
    seen: list[str] = []
    real = hash_cache.file_digest

    def counting(path, length=16):
        seen.append(str(path))
        return real(path, length)

    monkeypatch.setattr(hash_cache, "file_digest", counting)
    return seen


def _new_process():
    hash_cache._TABLES.clear()


def test_an_unchanged_folder_is_read_once_and_remembered_on_disk(tmp_path, reads):
    ds = open_folder(_folder(tmp_path / "data"))
    first = ds.content_hash()
    assert first == _expected_hash(ds) and len(reads) == len(ds)
    table = pq.read_table(hash_cache.table_file(ds.root))  # Parquet, not a pickle
    assert table.num_rows == len(ds)
    _new_process()
    reads.clear()
    assert open_folder(tmp_path / "data").content_hash() == first
    assert reads == []  # nothing re-read


def test_same_size_new_bytes_new_mtime_is_rehashed(tmp_path, reads):
    ds = open_folder(_folder(tmp_path / "data"))
    first = ds.content_hash()
    victim = ds.paths[2]
    size = os.path.getsize(victim)
    with open(victim, "wb") as f:
        f.write(os.urandom(size))  # same size, new bytes, mtime now
    os.utime(victim, (HOUR_AGO + 60, HOUR_AGO + 60))  # a new mtime (still outside the racy window)
    _new_process()
    reads.clear()
    again = open_folder(tmp_path / "data").content_hash()
    assert reads == [victim]
    assert again != first and again == _expected_hash(ds)


def test_content_change_with_mtime_forced_back_is_caught_by_ctime(tmp_path, reads):
    ds = open_folder(_folder(tmp_path / "data"))
    first = ds.content_hash()
    victim = ds.paths[0]
    st = os.stat(victim)
    time.sleep(0.01)  # ctime moves on (the kernel sets it; no program can set it back)
    with open(victim, "r+b") as f:
        f.write(b"\x00" * 16)  # same size, other bytes
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime forced back to what was remembered
    assert os.stat(victim).st_mtime_ns == st.st_mtime_ns and os.path.getsize(victim) == st.st_size
    _new_process()
    reads.clear()
    again = open_folder(tmp_path / "data").content_hash()
    assert reads == [victim] and again != first and again == _expected_hash(ds)


def _poison(file, victim):
    """A remembered hash that is wrong although the stat matches: what a change invisible to stat
    (same size, mtime and ctime: a clock set back, raw disk writes) leaves behind."""
    t = pq.read_table(file)
    paths = [os.fsdecode(p) for p in t.column("path").to_pylist()]
    sha = t.column("sha256").to_pylist()
    sha[paths.index(victim)] = b"\x11" * 32
    t = t.set_column(t.schema.get_field_index("sha256"), "sha256", pa.array(sha, pa.binary(32)))
    pq.write_table(t.replace_schema_metadata(hash_cache.SCHEMA.metadata), file)


def test_only_verify_catches_a_change_no_stat_can_see_and_it_repairs_the_cache(tmp_path, reads):
    ds = open_folder(_folder(tmp_path / "data"))
    true_hash = ds.content_hash()
    victim = ds.paths[1]
    _poison(hash_cache.table_file(ds.root), victim)
    _new_process()
    assert open_folder(tmp_path / "data").content_hash() != true_hash  # the documented limit
    _new_process()
    reads.clear()
    ds2 = open_folder(tmp_path / "data")
    assert ds2.verify_hashes() == [victim]
    assert len(reads) == len(ds2)  # every file re-read, the cache ignored
    assert ds2.content_hash() == true_hash
    _new_process()
    reads.clear()
    assert open_folder(tmp_path / "data").content_hash() == true_hash and reads == []  # repaired on disk


def test_content_hash_verify_rereads_everything(tmp_path, reads):
    ds = open_folder(_folder(tmp_path / "data"))
    h = ds.content_hash()
    reads.clear()
    assert ds.content_hash(verify=True) == h and len(reads) == len(ds)


def test_a_file_written_just_now_is_not_remembered(tmp_path, reads):
    ds = open_folder(_folder(tmp_path / "data"))
    fresh = ds.paths[3]
    with open(fresh, "wb") as f:
        f.write(os.urandom(100))  # mtime now: a second write in the same tick could keep this stat
    ds.content_hash()
    _new_process()
    reads.clear()
    ds.content_hash()
    assert reads == [fresh]


def test_a_vanished_image_is_an_error_and_earlier_hashes_are_kept(tmp_path, reads):
    ds = open_folder(_folder(tmp_path / "data"))
    os.remove(ds.paths[-1])
    with pytest.raises(LayerScopeError, match="img_5.png.*disappeared"):
        ds.content_hash()
    assert pq.read_table(hash_cache.table_file(ds.root)).num_rows == len(ds) - 1


def test_an_unreadable_table_is_ignored_and_rewritten(tmp_path, reads):
    ds = open_folder(_folder(tmp_path / "data"))
    file = hash_cache.table_file(ds.root)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(b"not parquet")
    assert ds.content_hash() == _expected_hash(ds)
    assert pq.read_table(file).num_rows == len(ds)


@pytest.mark.parametrize("command", ["precompute", "report", "memory", "export"])
def test_every_cli_command_that_opens_data_takes_verify(command):
    from analysis.cli import build_parser

    extra = ["--out", "x.parquet"] if command == "export" else []
    assert build_parser().parse_args([command, "--verify", *extra]).verify is True
    assert build_parser().parse_args([command, *extra]).verify is False


def test_cli_verify_names_the_image_the_cache_had_wrong(tmp_path, reads, capsys, monkeypatch):
    from analysis.cli_scale import open_data

    monkeypatch.setattr(hash_cache, "_TRUST_STATS", [True])  # --verify turns it off for the process

    ds = open_folder(_folder(tmp_path / "data"))
    true_hash = ds.content_hash()
    _poison(hash_cache.table_file(ds.root), ds.paths[4])
    _new_process()
    reads.clear()
    ds2 = open_data(str(tmp_path / "data"), verify=True)
    err = capsys.readouterr().err
    assert f"{os.path.basename(ds.paths[4])} changed" in err and "1 changed unseen" in err
    assert len(reads) == len(ds2) and ds2.content_hash() == true_hash
    assert hash_cache._TRUST_STATS == [False]  # and the entries this command opens are re-read too
