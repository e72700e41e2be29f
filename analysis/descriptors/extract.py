"""Batched per-block GAP extraction: one forward pass per batch, every block pooled by a hook,
streamed into memory-mapped arrays (memory stays bounded for any dataset size), resumable."""
from __future__ import annotations

import json
import platform
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from analysis.atomic import write_json_atomic
from analysis.data.datasets import Dataset
from analysis.data.decode import BatchDecoder
from analysis.descriptors.engines import ENGINES, MIN_COSINE, Choice, choose_engine, gap  # noqa: F401 (re-exported)
from analysis.descriptors.lock import entry_lock, is_locked
from analysis.descriptors.rowfile import RowFiles, check_finite, place_rows
from analysis.descriptors.store import (
    MANIFEST_VERSION,
    Store,
    descriptor_key_parts,
    entry_dir,
    file_sha256,
    open_entry,
    write_manifest,
)
from analysis.errors import LayerScopeError
from analysis.models.model import Model
from analysis.progress import Progress


def _batches(ds: Dataset, model: Model, start: int, batch_size: int) -> Iterator[tuple[int, torch.Tensor, list[str | None]]]:
    """Yield (first row, normalised batch, per-row error) while the next batches decode in worker threads."""
    return BatchDecoder(model).batches(ds.paths, start, batch_size)


def _engine_record(choice: Choice | None, state: dict) -> dict:
    """What ran and why, for progress.json and the manifest's provenance."""
    if choice is None:  # every row was written by an earlier run: keep what it recorded
        return dict(state.get("engine_record", {}))
    e = choice.engine
    record = {"engine": e.name, "precision": e.precision, "device": e.device,
              "dtype": {"fp32": "fp32", "bf16": "bfloat16", "fp16": "float16"}[e.precision],
              "min_cosine_to_fp32": choice.cosine, "engine_notes": choice.notes, "engine_speeds": choice.speeds}
    if e.name == "openvino":
        record["openvino"] = __import__("openvino").__version__
    return record


def read_progress(tmp: Path) -> dict:
    """The progress file of a partial entry ({} when absent or unreadable: start again)."""
    try:
        return json.loads((tmp / "progress.json").read_text())
    except (OSError, ValueError):
        return {}


def extract(
    model: Model,
    dataset: Dataset,
    batch_size: int = 32,
    precision: str = "auto",
    progress: Progress | None = None,
    wait: float | None = None,
    engine: str = "auto",
) -> Store:
    """Compute (or reuse) the per-block descriptors of `dataset` under `model`.

    Resumes an interrupted run from its last finished batch. `progress(done, total)` is called
    after every batch; raising from it cancels cleanly (the partial work is kept for resuming).
    One computation per entry at a time (a lock): a second caller waits (at most `wait` seconds,
    None = until done) and then reuses the entry the first one finished.
    `engine` (auto | torch | openvino) and `precision` choose how the forward runs (see
    `analysis.descriptors.engines.choose_engine`); the descriptors agree within cosine MIN_COSINE.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise LayerScopeError(f"batch size must be a whole number >= 1, got {batch_size!r}.")
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise LayerScopeError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}.")
    if engine not in ENGINES:
        raise LayerScopeError(f"engine must be auto, torch or openvino, got {engine!r}.")
    final = entry_dir(model, dataset)
    store, _ = open_entry(final)
    if store is not None:
        return store
    with entry_lock(final, timeout=wait):
        store, _ = open_entry(final)  # finished by whoever held the lock before us
        if store is not None:
            shutil.rmtree(final.with_name(final.name + ".partial"), ignore_errors=True)
            return store
        return _compute(model, dataset, final, batch_size, precision, progress, engine)


def _compute(model: Model, dataset: Dataset, final: Path, batch_size: int, precision: str,
             progress: Progress | None, engine: str = "auto") -> Store:
    n = len(dataset)
    key_parts = descriptor_key_parts(model, dataset)
    tmp = final.with_name(final.name + ".partial")
    state = read_progress(tmp)
    if state.get("key_parts") != json.loads(json.dumps(key_parts, default=str)):
        shutil.rmtree(tmp, ignore_errors=True)
        state = {}
    tmp.mkdir(parents=True, exist_ok=True)
    done = int(state.get("rows_done", 0))
    # Plain file writes into preallocated files (a full disk is a message, not SIGBUS); a stale
    # `.partial` whose files do not match its progress (e.g. a crash mid-way) starts over.
    rows = RowFiles(tmp, [(b.index, b.channels) for b in model.blocks], n, resume=done > 0)
    if not rows.valid:
        done, state = 0, {}
    names = {b.index: f"{b.index} ({b.module})" for b in model.blocks}
    errors: dict[str, str] = dict(state.get("errors", {}))
    choice: Choice | None = None
    t0 = time.time()
    with torch.no_grad():  # no autograd in extraction (not inference_mode: the OpenVINO export traces the net)
        for s, x, errs in _batches(dataset, model, done, batch_size):
            if choice is None:  # a resumed run goes on with the engine + precision it started with
                saved = state.get("engine_record", {})
                asked = (saved["engine"], saved["precision"]) if saved.get("engine") else (engine, precision)
                choice, feats = choose_engine(model, x, *asked)
            else:
                feats = choice.engine(x)
            if any(not e for e in errs):  # rows of unreadable images are zeros and dropped later
                check_finite({i: a[[not e for e in errs]] for i, a in feats.items()}, s, dataset.paths, names)
            for i, arr in feats.items():
                rows.write(i, s, arr)
            for j, e in enumerate(errs):
                if e:
                    errors[str(s + j)] = e
            rows.sync()
            done = s + len(x)
            write_json_atomic(tmp / "progress.json", {
                "key_parts": key_parts, "rows_done": done, "errors": errors,
                "engine_record": _engine_record(choice, state),
            })
            if progress:
                progress(done, n)
    seconds = time.time() - t0
    rows.close()
    if done != n:  # an entry is complete only when every row was written
        raise LayerScopeError(f"Only {done} of {n} images were computed; run again to resume.")
    return _finalise(model, dataset, tmp, final, key_parts, errors, _engine_record(choice, state), seconds)


def _finalise(model: Model, dataset, tmp: Path, final: Path, key_parts, errors, engine_record: dict, seconds) -> Store:
    n = len(dataset)
    bad = sorted(int(i) for i in errors)
    keep = np.setdiff1d(np.arange(n), bad)
    if len(keep) == 0:
        raise LayerScopeError("No image could be read: " + "; ".join(list(errors.values())[:5]))
    infos = []
    # Built in a separate folder from the untouched `.partial` (hard links, or compact copies without
    # the unreadable images' rows): a crash here leaves the partial complete and the next run finishes.
    build = final.with_name(final.name + ".building")
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    for b in model.blocks:
        f = build / f"block_{b.index}.npy"
        place_rows(tmp / f.name, f, keep, n)
        infos.append({"file": f.name, "sha256": file_sha256(f)})
    labels = dataset.labels.iloc[keep].reset_index(drop=True)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "model": model.name,
        "dataset_name": dataset.name,
        "dataset_root": str(dataset.root),
        "key_parts": key_parts,
        "n": int(len(keep)),
        "blocks": [asdict(b) for b in model.blocks],
        "arrays": infos,
        "paths": [dataset.paths[i] for i in keep],
        "labels": {c: labels[c].astype(str).tolist() for c in labels.columns},
        "failures": [{"path": dataset.paths[i], "reason": errors[str(i)]} for i in bad],
        "provenance": {
            "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "device": str(model.device),
            **engine_record,  # engine, precision, dtype, device it ran on, cosine to fp32 torch, notes
            "seconds": round(seconds, 2),
            "images_per_second": round(n / seconds, 1) if seconds > 0 else None,
            "torch": torch.__version__,
            "timm": __import__("timm").__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    write_manifest(build, manifest)  # paths + labels to rows.parquet, the rest to manifest.json
    shutil.rmtree(final, ignore_errors=True)
    build.rename(final)
    shutil.rmtree(tmp, ignore_errors=True)
    store, problem = open_entry(final, verify=False)
    if store is None:
        raise LayerScopeError(problem or f"Could not open the new cache entry {final}.")
    return store


def cache_status(model: Model, dataset: Dataset) -> tuple[str, Store | None, str | None]:
    """('ready', store, None) | ('partial', None, 'k of n images') | ('missing', None, None) | corrupt message."""
    final = entry_dir(model, dataset)
    store, problem = open_entry(final)
    if store is not None:
        return "ready", store, None
    if is_locked(final):
        return "computing", None, "being computed by another session or command right now"
    tmp = final.with_name(final.name + ".partial")
    st = read_progress(tmp)
    if st and all((tmp / f"block_{b.index}.npy").is_file() for b in model.blocks):
        return "partial", None, f"{st.get('rows_done', 0)} of {len(dataset)} images done (resumable)"
    return ("missing", None, problem)
