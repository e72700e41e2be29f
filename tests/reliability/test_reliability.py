"""The reliability catalogue (issue 10) replayed: every hostile or careless input ends in a clear
message or correct handling, nothing cached is lost or wrong, no entry gets stuck.

Groups: files and datasets · data root and caps · the cache (arguments, NaN, disk full, stale and
half-finalised entries, concurrency, read-only) · the CLI. The dashboard cases are in
test_dashboard_reliability.py.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading

import numpy as np
import pytest
import torch

from analysis.cli import main
from analysis.data.datasets import open_dataset
from analysis.data.images import load_image, shown
from analysis.data.roots import data_roots, is_within
from analysis.errors import LayerScopeError
from tests.reliability.fixtures import bad_files, fake_fashion_mnist, good_folder, good_png, png16


# ------------------------------------------------------------------------------------------------
# Files and datasets
# ------------------------------------------------------------------------------------------------
def test_every_broken_image_is_a_message_naming_the_file(tmp_path):
    f = bad_files(tmp_path / "cls")
    for kind in ("truncated", "zero", "text", "bomb"):
        with pytest.raises(LayerScopeError) as e:
            load_image(f[kind])
        assert f[kind].name in str(e.value), kind
    assert "too large" in str(pytest.raises(LayerScopeError, load_image, f["bomb"]).value)


def test_16bit_pngs_decode_to_8bit_rgb_at_any_width(tmp_path):
    wide = load_image(png16(tmp_path / "w.png", 4200, 8), max_side=1024)  # was "wrong mode"
    assert wide.mode == "RGB" and max(wide.size) == 1024
    small = np.asarray(load_image(png16(tmp_path / "s.png", 40, 30)))
    assert small.min() == 0 and small.max() == 255  # the 16-bit range is stretched, not clipped


def test_decoded_pixel_cap_refuses_before_decoding_but_jpegs_decode_reduced(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("LAYERSCOPE_MAX_PIXELS", "1000000")
    big_png = tmp_path / "big.png"
    Image.new("RGB", (2000, 1000)).save(big_png)
    with pytest.raises(LayerScopeError, match="decode limit"):
        load_image(big_png)
    big_jpg = tmp_path / "big.jpg"
    Image.new("RGB", (2000, 1000), (200, 10, 10)).save(big_jpg)
    assert max(load_image(big_jpg, max_side=256).size) <= 256  # draft decode stays under the cap


def test_non_utf8_file_names_are_listed_hashed_and_printable(tmp_path):
    good_folder(tmp_path / "ds")
    good_png(tmp_path / "ds" / "red" / "x.png", (10, 10, 10), 1)
    os.rename(tmp_path / "ds" / "red" / "x.png", os.path.join(os.fsencode(tmp_path / "ds" / "red"), b"\xff\xfe.png"))
    ds = open_dataset(str(tmp_path / "ds"))
    assert len(ds) == 11
    assert len(ds.content_hash()) == 20  # used to raise UnicodeEncodeError
    weird = next(p for p in ds.paths if "\udcff" in p)
    assert load_image(weird).size == (32, 32)  # the real (undecodable) name still opens the file
    shown(weird).encode("utf-8")  # what the UI and the CLI print encodes cleanly


def test_tsv_is_tab_separated_and_duplicate_rows_warn_keeping_the_first(tmp_path):
    good_folder(tmp_path)
    (tmp_path / "labels.tsv").write_text("path\tcolour\tshade\nred/red0.png\tred\tdark\nblue/blue0.png\tblue\tlight\n"
                                         "red/red1.png\tred\tlight\nblue/blue1.png\tblue\tdark\n")
    ds = open_dataset(str(tmp_path / "labels.tsv"))
    assert ds.label_columns == ["colour", "shade"] and len(ds) == 4
    (tmp_path / "dup.csv").write_text("path,colour\nred/red0.png,red\nred/red0.png,blue\nblue/blue0.png,blue\n"
                                      "blue/blue0.png,blue\nred/red1.png,red\n")
    ds = open_dataset(str(tmp_path / "dup.csv"))
    assert len(ds) == 3 and ds.labels["colour"].tolist() == ["red", "blue", "red"]
    assert any("2 duplicate row(s)" in w and "1 with conflicting labels" in w for w in ds.warnings)
    assert any("different labels" in p.reason for p in ds.problems)


def test_unreadable_system_folders_are_messages_not_permission_errors():
    with pytest.raises(LayerScopeError, match="No usable images"):
        open_dataset("/proc/1")


def test_fashion_mnist_accepts_split_test_and_samples_every_class(tmp_path, cache):
    root = fake_fashion_mnist(tmp_path / "fm", n=100)
    ds = open_dataset(f"fashion-mnist:root={root},split=test,n=20")
    counts = ds.labels["label"].value_counts()
    assert len(counts) == 10 and set(counts) == {2}  # the first 20 would all be one class
    with pytest.raises(LayerScopeError, match="use test or train"):
        open_dataset(f"fashion-mnist:root={root},split=validation")


# ------------------------------------------------------------------------------------------------
# Data root and caps (what a dashboard user may make the server read or allocate)
# ------------------------------------------------------------------------------------------------
def test_data_root_blocks_folders_csv_rows_and_links_outside_without_naming_them(tmp_path, monkeypatch, cache):
    root, outside = tmp_path / "data", tmp_path / "secret"
    good_folder(root / "ds")
    good_png(outside / "api_keys" / "key.png", (1, 2, 3), 0)
    (outside / "api_keys.txt").write_text("hunter2")
    monkeypatch.setenv("LAYERSCOPE_DATA_ROOT", str(root))
    roots = data_roots()
    assert is_within(root / "ds", roots) and is_within(cache / "datasets" / "x", roots)
    for spec in (str(outside), "/etc", str(root / ".." / "secret"), f"fashion-mnist:root={outside}"):
        with pytest.raises(LayerScopeError, match="outside the data root") as e:
            open_dataset(spec, roots=roots)
        assert "secret" not in str(e.value) and "/etc" not in str(e.value)
    (root / "ds" / "list.csv").write_text(f"path,label\nred/red0.png,red\nblue/blue0.png,blue\n"
                                          f"../../secret/api_keys/key.png,x\n{outside / 'api_keys' / 'key.png'},y\n")
    os.symlink(outside / "api_keys" / "key.png", root / "ds" / "red" / "link.png")
    ds = open_dataset(str(root / "ds" / "list.csv"), roots=roots)
    assert len(ds) == 2 and not any("secret" in p.path or "key" in p.path for p in ds.problems)
    folder = open_dataset(str(root / "ds"), roots=roots)
    assert len(folder) == 10 and all("secret" not in p for p in folder.paths)
    assert not any("secret" in p.path for p in folder.problems)
    cli = open_dataset(str(root / "ds" / "list.csv"))  # the CLI (no roots) reads anything
    assert len(cli) == 3 and any("secret" in p for p in cli.paths)  # the two key.png rows are one image


def test_caps_refuse_huge_requests_before_allocating():
    from analysis.limits import Limits, check_model_size, check_spec, check_upload

    lim = Limits()
    for opts in ({"n": "100000"}, {"size": "6000"}):
        with pytest.raises(LayerScopeError, match="cap"):
            check_spec("garments", opts, lim)
    check_spec("garments", {"n": "200", "size": "128"}, lim)
    with pytest.raises(LayerScopeError, match="631 M parameters"):
        check_model_size("vit_huge_patch14_224", lim)  # counted on the meta device: no 6 GB
    assert check_model_size("resnet18", lim) == 11_689_512
    with pytest.raises(LayerScopeError, match="upload cap"):
        check_upload(150_000_000, "big.png", lim)


def test_uploads_over_the_cap_are_refused_before_reading(monkeypatch):
    from dashboard.safe_io import read_upload

    class Upload:
        name, size = "huge.png", 30_000_000

        def getvalue(self):
            raise AssertionError("read although above the cap")

    monkeypatch.setenv("LAYERSCOPE_MAX_UPLOAD_MB", "20")
    with pytest.raises(LayerScopeError, match="30.0 MB is above the upload cap of 20 MB"):
        read_upload(Upload())


def test_unknown_or_absent_devices_are_messages():
    from analysis.models.device import pick_device

    with pytest.raises(LayerScopeError, match="Unknown device 'foo'"):
        pick_device("foo")
    if not torch.cuda.is_available():
        with pytest.raises(LayerScopeError, match="no usable CUDA"):
            pick_device("cuda")
    assert pick_device("cpu").type == "cpu"


def test_vit_receptive_field_is_whole_image_not_an_assertion(cache):
    from analysis.models.model import load_model

    m = load_model("vit_small_patch16_224", weights="random", device="cpu")
    assert m.blocks and all(b.rf_global for b in m.blocks)


# ------------------------------------------------------------------------------------------------
# The cache: complete only when every row was written; no NaN; a full disk is a message; resumable;
# stale and half-finalised entries recover; one computation per entry; read-only caches
# ------------------------------------------------------------------------------------------------
FAST = {"engine": "torch", "precision": "fp32"}  # no engine race per entry: the cases are about the cache


def _partial(model, ds):
    from analysis.descriptors.store import entry_dir

    final = entry_dir(model, ds)
    return final, final.with_name(final.name + ".partial")


def test_poison_batch_sizes_never_cache_anything(lite0, tmp_path, cache):
    from analysis.descriptors.extract import cache_status, extract

    ds = open_dataset(str(good_folder(tmp_path / "ds")))
    for bs in (-1, 0, 2.5, True):
        with pytest.raises(LayerScopeError, match="batch size"):
            extract(lite0, ds, batch_size=bs, **FAST)
    assert cache_status(lite0, ds)[0] == "missing"


def test_nan_weights_are_refused_naming_the_block(lite0, tmp_path, cache):
    import copy

    from analysis.descriptors.extract import cache_status, extract

    net = copy.deepcopy(lite0.net)
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    broken = dataclasses.replace(lite0, net=net, weights_id="nan", lock=threading.RLock())
    ds = open_dataset(str(good_folder(tmp_path / "ds")))
    with pytest.raises(LayerScopeError, match=r"Block 1 \(.*\) gives NaN or infinite descriptors"):
        extract(broken, ds, batch_size=4, **FAST)
    assert cache_status(broken, ds)[0] != "ready"


def test_broken_files_in_a_folder_are_left_out_and_listed(lite0, tmp_path, cache):
    from analysis.descriptors.extract import extract

    f = bad_files(tmp_path / "ds" / "green")
    good_folder(tmp_path / "ds", per_class=2)
    store = extract(lite0, open_dataset(str(tmp_path / "ds")), batch_size=4, **FAST)
    failed = {os.path.basename(x["path"]) for x in store.failures}
    assert failed == {"truncated.png", "zero.jpg", "text.jpg", "bomb.png"}
    assert store.n == 4 + 4 and store.verify() is None  # ok, wide16, small16, latin1 + 4 good
    assert np.isfinite(store.descriptors(1)).all()
    assert any(p.endswith(os.fsdecode(b"caf\xe9.png")) for p in store.paths) and f["latin1"].is_file()


def test_full_disk_is_a_message_at_the_start_and_mid_run_and_the_work_resumes(lite0, tmp_path, cache, monkeypatch):
    from analysis.descriptors import rowfile
    from analysis.descriptors.extract import extract

    ds = open_dataset(str(good_folder(tmp_path / "ds", per_class=6)))
    real_usage = rowfile.shutil.disk_usage
    monkeypatch.setattr(rowfile.shutil, "disk_usage", lambda p: real_usage(p)._replace(free=1000))
    with pytest.raises(LayerScopeError, match="Not enough disk space"):
        extract(lite0, ds, batch_size=4, **FAST)
    monkeypatch.setattr(rowfile.shutil, "disk_usage", real_usage)

    def no_space(*a):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rowfile.os, "posix_fallocate", no_space)  # e.g. a tiny tmpfs
    with pytest.raises(LayerScopeError, match="No space left on device"):
        extract(lite0, ds, batch_size=4, **FAST)
    monkeypatch.undo()
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(cache))
    writes = {"n": 0}
    real_pwrite = os.pwrite

    def pwrite_then_full(fd, data, pos):  # the disk fills during the second batch
        writes["n"] += pos > 0  # headers are written at offset 0
        if writes["n"] > len(lite0.blocks):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, pos)

    monkeypatch.setattr(rowfile.os, "pwrite", pwrite_then_full)
    with pytest.raises(LayerScopeError, match="work already done is kept and resumes"):
        extract(lite0, ds, batch_size=4, **FAST)
    final, tmp = _partial(lite0, ds)
    assert json.loads((tmp / "progress.json").read_text())["rows_done"] == 4
    monkeypatch.setattr(rowfile.os, "pwrite", real_pwrite)
    resumed = []
    store = extract(lite0, ds, batch_size=4, progress=lambda d, n: resumed.append(d), **FAST)
    assert resumed[0] == 8 and store.n == 12 and store.verify() is None  # batch 1 was not recomputed
    ref = extract(lite0, dataclasses.replace(ds, labels=ds.labels.assign(extra="x")), batch_size=12, **FAST)
    np.testing.assert_allclose(store.descriptors(3), ref.descriptors(3), rtol=1e-3, atol=1e-3)


def test_stale_partial_with_only_progress_recovers_instead_of_failing_forever(lite0, tmp_path, cache):
    from analysis.descriptors.extract import cache_status, extract
    from analysis.descriptors.store import descriptor_key_parts

    ds = open_dataset(str(good_folder(tmp_path / "ds")))
    final, tmp = _partial(lite0, ds)
    tmp.mkdir(parents=True)
    (tmp / "progress.json").write_text(json.dumps({  # what the losing session left behind
        "key_parts": json.loads(json.dumps(descriptor_key_parts(lite0, ds), default=str)), "rows_done": len(ds),
        "errors": {}, "min_cosine": None, "precision_choice": "fp32"}))
    assert cache_status(lite0, ds)[0] == "missing"  # not "10 of 10 images done (resumable)"
    store = extract(lite0, ds, batch_size=4, **FAST)
    assert store.n == 10 and store.verify() is None and np.abs(store.descriptors(2)).sum() > 0
    assert not tmp.exists()


def test_crash_during_finalisation_with_unreadable_images_finishes_next_time(lite0, tmp_path, cache, monkeypatch):
    from analysis.descriptors import extract as ex

    good_folder(tmp_path / "ds")
    (tmp_path / "ds" / "red" / "broken.png").write_bytes(b"\x89PNG nope")
    ds = open_dataset(str(tmp_path / "ds"))
    calls = {"n": 0}
    real = ex.place_rows

    def crash_on_second(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed half-way through writing the final arrays
        return real(*a, **k)

    monkeypatch.setattr(ex, "place_rows", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        ex.extract(lite0, ds, batch_size=4, **FAST)
    monkeypatch.setattr(ex, "place_rows", real)
    assert ex.cache_status(lite0, ds)[0] == "partial"
    store = ex.extract(lite0, ds, batch_size=4, **FAST)  # was a permanent IndexError
    assert store.n == 10 and len(store.failures) == 1 and store.verify() is None


def test_two_concurrent_computes_of_one_entry_both_get_it_and_nothing_is_left_behind(lite0, tmp_path, cache):
    from analysis.descriptors.extract import extract

    ds = open_dataset(str(good_folder(tmp_path / "ds", per_class=8)))
    results, failures = [], []
    go = threading.Barrier(2)

    def run():
        try:
            go.wait()
            results.append(extract(lite0, ds, batch_size=2, **FAST))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures and len(results) == 2
    assert results[0].path == results[1].path and results[0].verify() is None
    left = sorted(p.name for p in results[0].path.parent.iterdir() if not p.name.endswith(".lock"))
    assert left == [results[0].path.name]  # no .partial / .building


def test_waiting_for_an_entry_being_computed_says_so(lite0, tmp_path, cache):
    from analysis.descriptors.extract import cache_status, extract
    from analysis.descriptors.lock import entry_lock

    ds = open_dataset(str(good_folder(tmp_path / "ds")))
    final, _ = _partial(lite0, ds)
    with entry_lock(final):  # another session holds it
        assert cache_status(lite0, ds)[0] == "computing"
        with pytest.raises(LayerScopeError, match="being computed right now"):
            extract(lite0, ds, wait=0.3, **FAST)


def test_read_only_cache_and_cache_clear_are_messages(lite0, tmp_path, cache, monkeypatch, capsys):
    from analysis.descriptors import lock
    from analysis.descriptors import store as store_mod
    from analysis.descriptors.extract import extract
    from analysis.descriptors.results_cache import cached_json

    ds = open_dataset(str(good_folder(tmp_path / "ds")))
    done = extract(lite0, ds, batch_size=8, **FAST)
    real_open = os.open

    def read_only(path, flags, *a):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *a)

    other = open_dataset(str(good_folder(tmp_path / "ds2", seed=3)))
    monkeypatch.setattr(lock.os, "open", read_only)
    with pytest.raises(LayerScopeError, match="Cannot write in the cache folder"):
        extract(lite0, other, **FAST)
    assert extract(lite0, ds, **FAST).path == done.path  # a complete entry is still served
    monkeypatch.setattr("analysis.atomic.tempfile.mkstemp", lambda **k: (_ for _ in ()).throw(PermissionError(13, "ro")))
    assert cached_json("t", {"x": 1}, lambda: {"ok": 1}) == {"ok": 1}  # results still computed, not saved
    monkeypatch.setattr(store_mod.shutil, "rmtree", lambda p: (_ for _ in ()).throw(PermissionError(13, "denied")))
    assert main(["cache", "clear"]) == 2
    assert "read-only" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(cache))
    assert main(["cache", "clear", ""]) == 2 and "empty entry name" in capsys.readouterr().err
    assert done.path.is_dir()  # '' used to wipe every entry


# ------------------------------------------------------------------------------------------------
# The CLI: poison arguments are `error:` + exit 2, checked before any work
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["precompute", "--batch-size", "-1"], "--batch-size: must be at least 1"),
    (["precompute", "--batch-size", "0"], "--batch-size: must be at least 1"),
    (["precompute", "--batch-size", "x"], "--batch-size: 'x' is not a whole number"),
    (["report", "--folds", "0"], "--folds: must be at least 1"),
])
def test_cli_poison_numbers_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_cli_checks_device_and_out_before_any_work(tmp_path, cache, capsys, monkeypatch):
    import analysis.data.datasets as datasets

    monkeypatch.setattr(datasets, "open_dataset", lambda *a, **k: pytest.fail("opened the dataset first"))
    assert main(["precompute", "--device", "foo"]) == 2
    assert "Unknown device 'foo'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["precompute", "--device", "cuda"]) == 2
        assert "no usable CUDA" in capsys.readouterr().err
    assert main(["report", "--out", "/nonexistent/x.csv"]) == 2
    assert "/nonexistent does not exist" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_cli_cache_pointing_to_a_file_and_unreadable_data_are_messages(tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "afile"))
    assert main(["cache", "list"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "cache"))
    assert main(["precompute", "--data", "/proc/1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "error: No usable images in /proc/1" in err and "Traceback" not in err


def test_cli_full_disk_is_exit_2_with_a_message(lite0, tmp_path, cache, capsys, monkeypatch):
    from analysis.descriptors import rowfile

    good_folder(tmp_path / "ds")
    monkeypatch.setattr("analysis.models.model.load_model", lambda *a, **k: lite0)  # loaded once per session
    real_usage = rowfile.shutil.disk_usage
    monkeypatch.setattr(rowfile.shutil, "disk_usage", lambda p: real_usage(p)._replace(free=10_000))
    assert main(["precompute", "--data", str(tmp_path / "ds"), "--device", "cpu", "--engine", "torch",
                 "--precision", "fp32"]) == 2
    assert "Not enough disk space" in capsys.readouterr().err


def test_report_on_a_tiny_set_uses_a_smaller_k_instead_of_aborting():
    from analysis.probes.report import block_report

    rng = np.random.default_rng(0)
    r = block_report({"b1": rng.normal(size=(8, 5)).astype(np.float32)}, np.array(["a"] * 4 + ["b"] * 4),
                     clustering=False, n_boot=10, n_queries=5)
    assert r.params["retrieval_k"] == 7 and np.isfinite(r.table["precision"]).all()
