"""Extraction on Ray: the same cache entry as analysis.descriptors.extract, computed by a Ray cluster.

Ray Data reads the image list, decodes + preprocesses in CPU tasks (the one image loader and the
model's own transform), runs the network in an actor pool (one GPU per actor where the cluster has
GPUs, CPU actors otherwise; fp32 torch engine), and the driver writes the rows into the `.partial`
entry's block files. The rows are split in shards; a shard is recorded in progress.json once all its
rows are on disk, so an interrupted run resumes with the shards still missing. The entry is then
finalised exactly as a local run finalises it (same key, same files, same manifest).

`ray.init(address=None)` starts a local Ray on this machine; `address="auto"` joins the cluster this
machine is part of (`ray start --head` / `ray start --address …`): every node then needs LayerScope
installed (`pip install -e .`) and the images at the same path.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from analysis.atomic import write_json_atomic
from analysis.data.datasets import Dataset
from analysis.descriptors.extract import read_progress
from analysis.descriptors.lock import entry_lock
from analysis.descriptors.rowfile import RowFiles
from analysis.descriptors.store import Store, descriptor_key_parts, entry_dir, open_entry
from analysis.errors import LayerScopeError
from analysis.models.model import Model
from analysis.progress import Progress, report

SHARD_ROWS = 256


class _Decode:
    """CPU task: paths -> normalised (n, 3, H, W) float32 images (zeros + the error for unreadable files)."""

    def __init__(self, data_config: dict):
        from timm.data import create_transform

        self.transform = create_transform(**data_config, is_training=False)
        self.size = int(data_config["input_size"][-1])

    def __call__(self, batch: dict) -> dict:
        from analysis.data.images import load_image

        xs, errs = [], []
        for p in batch["path"]:
            try:
                xs.append(self.transform(load_image(str(p)).convert("RGB")).numpy())
                errs.append("")
            except Exception as exc:  # each bad file is reported by name; the rest go on
                xs.append(np.zeros((3, self.size, self.size), dtype=np.float32))
                errs.append(str(exc))
        return {"row": np.asarray(batch["row"]), "x": np.stack(xs).astype(np.float32), "error": np.asarray(errs)}


class _Embed:
    """Actor: one model per actor (loaded once), pooled descriptors of every block per batch."""

    def __init__(self, name: str, weights: str | None, device: str):
        from analysis.descriptors.engines.torch_engine import TorchEngine
        from analysis.models.model import load_model

        self.engine = TorchEngine(load_model(name, weights=weights, device=device), "fp32")

    def __call__(self, batch: dict) -> dict:
        import torch

        feats = self.engine(torch.from_numpy(np.ascontiguousarray(batch["x"])))
        return {"row": batch["row"], "error": batch["error"], **{f"block_{i}": a for i, a in feats.items()}}


def extract_ray(
    model: Model,
    dataset: Dataset,
    *,
    address: str | None = None,
    batch_size: int = 32,
    actors: int | None = None,
    num_cpus: int | None = None,
    weights: str | None = None,
    progress: Progress | None = None,
) -> Store:
    """Compute (or reuse) the descriptors of `dataset` under `model` on Ray; returns the cache entry.

    `model` is loaded here only for its blocks / key / preprocessing; every actor loads its own copy
    by name (`weights`: the same local weights file, reachable on every node)."""
    import ray

    final = entry_dir(model, dataset)
    store, _ = open_entry(final)
    if store is not None:
        return store
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True)
        except (ConnectionError, RuntimeError) as exc:
            raise LayerScopeError(f"could not reach a Ray cluster at --address {address} ({exc}). Start one with "
                                  "`ray start --head` (and `ray start --address <head>:6379` on the other nodes), or "
                                  "leave out --address to run a local Ray on this machine.") from None
    try:
        with entry_lock(final):
            store, _ = open_entry(final)
            if store is not None:
                return store
            return _compute(ray, model, dataset, final, batch_size, actors, weights, progress)
    finally:
        if started:
            ray.shutdown()


def _compute(ray, model: Model, dataset: Dataset, final: Path, batch_size: int, actors: int | None,
             weights: str | None, progress) -> Store:
    from analysis.descriptors.extract import _finalise

    n = len(dataset)
    key_parts = descriptor_key_parts(model, dataset)
    tmp = final.with_name(final.name + ".partial")
    state = read_progress(tmp)
    if state.get("key_parts") != json.loads(json.dumps(key_parts, default=str)) or "shards_done" not in state:
        shutil.rmtree(tmp, ignore_errors=True)  # a local run's partial (or another key's): start clean
        state = {}
    tmp.mkdir(parents=True, exist_ok=True)
    shards = [(s, min(n, s + SHARD_ROWS)) for s in range(0, n, SHARD_ROWS)]
    done_shards = set(state.get("shards_done", []))
    rows = RowFiles(tmp, [(b.index, b.channels) for b in model.blocks], n, resume=bool(done_shards))
    if not rows.valid:
        done_shards, state = set(), {}
    errors: dict[str, str] = dict(state.get("errors", {}))
    pending = [i for i in range(len(shards)) if i not in done_shards]
    left = {i: shards[i][1] - shards[i][0] for i in pending}
    gpus = ray.cluster_resources().get("GPU", 0)
    n_actors = actors or max(1, int(gpus) if gpus else min(2, int(ray.cluster_resources().get("CPU", 1))))
    device = "cuda" if gpus else "cpu"
    record = {"engine": "torch", "precision": "fp32", "device": device, "dtype": "fp32", "runner": "ray",
              "ray": ray.__version__, "ray_actors": n_actors, "min_cosine_to_fp32": 1.0}

    def save() -> None:
        contiguous = 0
        for i, (s, e) in enumerate(shards):
            if i not in done_shards:
                break
            contiguous = e
        write_json_atomic(tmp / "progress.json", {
            "key_parts": key_parts, "rows_done": contiguous, "shards_done": sorted(done_shards),
            "errors": errors, "engine_record": record})

    t0 = time.time()
    if pending:
        items = [{"row": r, "path": dataset.paths[r]} for i in pending for r in range(*shards[i])]
        data_config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.data_config.items()}
        ds = (ray.data.from_items(items, override_num_blocks=max(1, len(items) // batch_size))
              .map_batches(_Decode, fn_constructor_kwargs={"data_config": data_config}, batch_size=batch_size,
                           concurrency=1, batch_format="numpy")
              .map_batches(_Embed, fn_constructor_kwargs={"name": model.name,
                                                          "weights": weights, "device": device},
                           batch_size=batch_size, concurrency=n_actors, num_gpus=1 if gpus else 0,
                           batch_format="numpy"))
        finished = n - sum(left.values())
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            r = np.asarray(batch["row"], dtype=np.int64)
            order = np.argsort(r)
            r = r[order]
            runs = np.split(np.arange(len(r)), np.flatnonzero(np.diff(r) != 1) + 1)  # contiguous row ranges
            for b in model.blocks:
                a = np.asarray(batch[f"block_{b.index}"])[order]
                for run in runs:
                    rows.write(b.index, int(r[run[0]]), a[run])
            for row, err in zip(r, np.asarray(batch["error"])[order]):
                if err:
                    errors[str(int(row))] = str(err)
            for sid in np.unique(r // SHARD_ROWS):
                left[int(sid)] -= int((r // SHARD_ROWS == sid).sum())
            complete = [i for i in np.unique(r // SHARD_ROWS).tolist() if left[i] == 0]
            if complete:
                rows.sync()  # rows on disk before progress.json says so
                done_shards.update(complete)
                save()
            finished += len(r)
            report(progress, finished, n, f"{len(done_shards)} of {len(shards)} shards")
    seconds = time.time() - t0
    rows.close()
    if len(done_shards) != len(shards):
        raise LayerScopeError(f"only {len(done_shards)} of {len(shards)} shards were computed; run again to resume.")
    return _finalise(model, dataset, tmp, final, key_parts, errors, record, seconds)
