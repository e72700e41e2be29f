"""Batched per-block GAP extraction: one forward pass per batch, every block pooled by a hook,
streamed into memory-mapped arrays (memory stays bounded for any dataset size), resumable."""
from __future__ import annotations

import json
import platform
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from analysis.atomic import write_json_atomic
from analysis.data.datasets import Dataset
from analysis.data.images import load_image
from analysis.descriptors.store import MANIFEST_VERSION, Store, descriptor_key_parts, entry_dir, file_sha256, open_entry
from analysis.errors import LayerScopeError
from analysis.models.device import fast_dtype
from analysis.models.model import Model

MIN_COSINE = 0.999  # reduced precision is kept only while every descriptor stays this close to fp32
Progress = Callable[[int, int], None]


def gap(o: torch.Tensor) -> torch.Tensor:
    """Global average pool of a block output: NCHW maps -> mean over H, W; tokens (N, L, C) -> mean over L."""
    o = o.float()
    if o.ndim == 4:
        return o.mean(dim=(2, 3))
    if o.ndim == 3:
        return o.mean(dim=1)
    return o.flatten(1)


class Pooler:
    """Forward hooks that keep only the pooled descriptor of each block (never the maps)."""

    def __init__(self, model: Model):
        self.model = model
        self.out: dict[int, torch.Tensor] = {}
        self.hooks = []

    def __enter__(self) -> Pooler:
        for b in self.model.blocks:
            self.hooks.append(self.model.module(b).register_forward_hook(
                lambda _m, _a, o, i=b.index: self.out.__setitem__(i, gap(o))))
        return self

    def __exit__(self, *exc) -> None:
        for h in self.hooks:
            h.remove()
        self.hooks.clear()

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, dtype: torch.dtype | None) -> dict[int, np.ndarray]:
        self.out.clear()
        dev = self.model.device
        x = x.to(dev, non_blocking=True)
        if dev.type in ("cpu", "cuda"):
            x = x.contiguous(memory_format=torch.channels_last)
        ctx = torch.autocast(dev.type, dtype=dtype) if dtype is not None else nullcontext()
        with self.model.lock, ctx:
            self.model.net(x)
            return {i: t.float().cpu().numpy() for i, t in self.out.items()}


def _cosines(a: dict[int, np.ndarray], b: dict[int, np.ndarray]) -> float:
    worst = 1.0
    for i in a:
        num = (a[i] * b[i]).sum(1)
        den = np.linalg.norm(a[i], axis=1) * np.linalg.norm(b[i], axis=1) + 1e-12
        worst = min(worst, float((num / den).min()))
    return worst


def choose_precision(pooler: Pooler, x: torch.Tensor, precision: str) -> tuple[torch.dtype | None, float | None]:
    """'fp32', 'auto' (reduced precision if it keeps cosine >= MIN_COSINE on this batch), or 'bf16'/'fp16'."""
    if precision == "fp32":
        return None, None
    wanted = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision) or fast_dtype(pooler.model.device)
    if wanted is None:
        return None, None
    ref = pooler(x, None)
    try:
        low = pooler(x, wanted)
    except (RuntimeError, TypeError):  # autocast dtype unsupported on this device/op
        return None, None
    cos = _cosines(ref, low)
    return (wanted, cos) if cos >= MIN_COSINE or precision != "auto" else (None, cos)


def _batches(ds: Dataset, model: Model, start: int, batch_size: int) -> Iterator[tuple[int, torch.Tensor, list[str | None]]]:
    """Yield (first row, batch tensor, per-row error) while the next batch loads in a thread."""

    def load(i: int):
        try:
            return model.preprocess(load_image(ds.paths[i])), None
        except Exception as exc:  # each bad file is reported by name; the rest go on
            return torch.zeros(3, model.input_size, model.input_size), str(exc)

    def load_batch(s: int):
        items = [load(i) for i in range(s, min(s + batch_size, len(ds)))]
        return s, torch.stack([t for t, _ in items]), [e for _, e in items]

    with ThreadPoolExecutor(max_workers=1) as pool:
        starts = list(range(start, len(ds), batch_size))
        fut = pool.submit(load_batch, starts[0]) if starts else None
        for k in range(len(starts)):
            cur = fut.result()
            fut = pool.submit(load_batch, starts[k + 1]) if k + 1 < len(starts) else None
            yield cur


def _state(tmp: Path) -> dict:
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
) -> Store:
    """Compute (or reuse) the per-block descriptors of `dataset` under `model`.

    Resumes an interrupted run from its last finished batch. `progress(done, total)` is called
    after every batch; raising from it cancels cleanly (the partial work is kept for resuming).
    """
    final = entry_dir(model, dataset)
    store, _ = open_entry(final)
    if store is not None:
        return store
    n = len(dataset)
    key_parts = descriptor_key_parts(model, dataset)
    tmp = final.with_name(final.name + ".partial")
    state = _state(tmp)
    if state.get("key_parts") != json.loads(json.dumps(key_parts, default=str)):
        shutil.rmtree(tmp, ignore_errors=True)
        state = {}
    tmp.mkdir(parents=True, exist_ok=True)
    done = int(state.get("rows_done", 0))
    mode = "r+" if done else "w+"
    arrays = {b.index: np.lib.format.open_memmap(tmp / f"block_{b.index}.npy", mode=mode, dtype=np.float32,
                                                 shape=(n, b.channels)) for b in model.blocks}
    errors: dict[str, str] = dict(state.get("errors", {}))
    dtype, cosine = None, state.get("min_cosine")
    t0 = time.time()
    if model.device.type in ("cpu", "cuda"):
        model.net.to(memory_format=torch.channels_last)
    with Pooler(model) as pooler:
        first = True
        for s, x, errs in _batches(dataset, model, done, batch_size):
            if first:
                dtype, cosine = choose_precision(pooler, x, state.get("precision_choice", precision))
                first = False
            feats = pooler(x, dtype)
            for i, arr in feats.items():
                arrays[i][s : s + len(x)] = arr
            for j, e in enumerate(errs):
                if e:
                    errors[str(s + j)] = e
            for a in arrays.values():
                a.flush()
            done = s + len(x)
            write_json_atomic(tmp / "progress.json", {
                "key_parts": key_parts, "rows_done": done, "errors": errors, "min_cosine": cosine,
                "precision_choice": "fp32" if dtype is None else str(dtype).removeprefix("torch.").replace("bfloat16", "bf16").replace("float16", "fp16"),
            })
            if progress:
                progress(done, n)
    seconds = time.time() - t0
    del arrays
    return _finalise(model, dataset, tmp, final, key_parts, errors, dtype, cosine, seconds)


def _finalise(model, dataset, tmp: Path, final: Path, key_parts, errors, dtype, cosine, seconds) -> Store:
    n = len(dataset)
    bad = sorted(int(i) for i in errors)
    keep = np.setdiff1d(np.arange(n), bad)
    if len(keep) == 0:
        raise LayerScopeError("No image could be read: " + "; ".join(list(errors.values())[:5]))
    infos = []
    for b in model.blocks:
        f = tmp / f"block_{b.index}.npy"
        if bad:  # drop unreadable images' rows so every row is a real descriptor
            arr = np.load(f, mmap_mode="r")
            kept = np.ascontiguousarray(arr[keep])
            del arr
            np.save(f, kept)
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
            "dtype": "fp32" if dtype is None else str(dtype).removeprefix("torch."),
            "min_cosine_to_fp32": cosine,
            "seconds": round(seconds, 2),
            "images_per_second": round(n / seconds, 1) if seconds > 0 else None,
            "torch": torch.__version__,
            "timm": __import__("timm").__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    write_json_atomic(tmp / "manifest.json", manifest)
    (tmp / "progress.json").unlink(missing_ok=True)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
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
    tmp = final.with_name(final.name + ".partial")
    st = _state(tmp)
    if st:
        return "partial", None, f"{st.get('rows_done', 0)} of {len(dataset)} images done (resumable)"
    return ("missing", None, problem)
