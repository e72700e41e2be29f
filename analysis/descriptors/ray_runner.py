"""Extraction on Ray: the same cache entry as analysis.descriptors.extract, computed by a Ray cluster.

Ray Data reads the list of row shards (`descriptors/shards.py`, SHARD_ROWS images each), decodes +
preprocesses each shard in CPU tasks (the one image loader and the model's own transform), and runs
the network in an actor pool (one GPU per actor where the cluster has GPUs, CPU actors otherwise;
fp32 torch engine). Each actor writes its shards' rows straight into the `.partial` entry's block
files with a `ShardWriter` and marks the shard done — many writers, one entry — when it can see that
entry (this machine, or a file system every node shares: checked by a token the driver writes);
otherwise it sends the rows back and the driver writes them. An interrupted run resumes with the
shards that have no marker. The entry is then finalised exactly as a local run finalises it (same
key, same files, same manifest).

`ray.init(address=None)` starts a local Ray on this machine; `address="auto"` joins the cluster this
machine is part of (`ray start --head` / `ray start --address …`): every node then needs LayerScope
installed (`pip install -e .`) and the images at the same path.
"""
from __future__ import annotations

import json
import secrets
import shutil
import time
from pathlib import Path

import numpy as np

from analysis.atomic import write_json_atomic
from analysis.data.datasets import Dataset
from analysis.descriptors import shards
from analysis.descriptors.extract import read_progress
from analysis.descriptors.lock import entry_lock
from analysis.descriptors.store import Store, descriptor_key_parts, entry_dir, open_entry
from analysis.errors import LayerScopeError
from analysis.models.model import Model
from analysis.progress import Progress, report

SHARD_ROWS = shards.SHARD_ROWS  # read at run time: tests and benchmarks/ray_cluster.py set smaller shards
WRITERS = ("auto", "driver")


class _Decode:
    """CPU task: one shard {start, stop, paths} -> its normalised (rows, 3, H, W) float32 images (zeros +
    the error for unreadable files)."""

    def __init__(self, data_config: dict):
        from timm.data import create_transform

        self.transform = create_transform(**data_config, is_training=False)
        self.size = int(data_config["input_size"][-1])

    def __call__(self, batch: dict) -> dict:
        from analysis.data.images import load_image

        out = {"start": [], "stop": [], "x": [], "error": []}
        for start, stop, paths in zip(batch["start"], batch["stop"], batch["paths"]):
            xs, errs = [], []
            for p in paths:
                try:
                    xs.append(self.transform(load_image(str(p)).convert("RGB")).numpy())
                    errs.append("")
                except Exception as exc:  # each bad file is reported by name; the rest go on
                    xs.append(np.zeros((3, self.size, self.size), dtype=np.float32))
                    errs.append(str(exc))
            out["start"].append(int(start))
            out["stop"].append(int(stop))
            out["x"].append(np.stack(xs).astype(np.float32))
            out["error"].append(json.dumps(errs))
        return {k: (np.asarray(v) if k != "x" else _ragged(v)) for k, v in out.items()}


def _ragged(arrays: list[np.ndarray]) -> np.ndarray:
    """Shards of unequal length (the last one) in one column: an object array of arrays."""
    col = np.empty(len(arrays), dtype=object)
    col[:] = arrays
    return col


class _Embed:
    """Actor: one model per actor (loaded once); per shard, the pooled descriptors of every block,
    written into the partial entry by this actor when it can see it (the driver's token matches),
    else returned for the driver to write."""

    def __init__(self, name: str, weights: str | None, device: str, batch_size: int, folder: str, token: str,
                 blocks: list[tuple[int, int]], n: int):
        import ray

        from analysis.descriptors.engines.torch_engine import TorchEngine
        from analysis.models.model import load_model

        self.engine = TorchEngine(load_model(name, weights=weights, device=device), "fp32")
        self.node = ray.get_runtime_context().get_node_id()  # recorded in the provenance: which nodes ran
        self.batch_size = batch_size
        self.writer = None
        try:
            if token and (Path(folder) / "coordinator.json").read_text() == token:
                self.writer = shards.ShardWriter(Path(folder), [tuple(b) for b in blocks], n)
        except (OSError, LayerScopeError):
            self.writer = None  # another machine without the shared folder: the driver writes

    def __call__(self, batch: dict) -> dict:
        import torch

        out: dict[str, list] = {"start": [], "stop": [], "error": [], "written": [], "feats": []}
        for start, stop, x, err in zip(batch["start"], batch["stop"], batch["x"], batch["error"]):
            # A copy: Ray hands the shard over read-only (zero-copy), which torch.from_numpy warns about.
            parts = [self.engine(torch.from_numpy(np.array(x[i:i + self.batch_size])))
                     for i in range(0, len(x), self.batch_size)]
            feats = {b: np.concatenate([p[b] for p in parts]) for b in parts[0]}
            errors = {int(start) + i: e for i, e in enumerate(json.loads(str(err))) if e}
            if self.writer is not None:
                self.writer.write(int(start), feats, errors)
            out["start"].append(int(start))
            out["stop"].append(int(stop))
            out["error"].append(json.dumps({str(k): v for k, v in errors.items()}))
            out["written"].append(self.writer is not None)
            out["feats"].append(None if self.writer is not None else {int(b): a for b, a in feats.items()})
        return {"start": np.asarray(out["start"]), "stop": np.asarray(out["stop"]), "error": np.asarray(out["error"]),
                "written": np.asarray(out["written"]), "node": np.asarray([self.node] * len(out["start"])),
                "feats": _ragged(out["feats"])}


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
    writers: str = "auto",
) -> Store:
    """Compute (or reuse) the descriptors of `dataset` under `model` on Ray; returns the cache entry.

    `model` is loaded here only for its blocks / key / preprocessing; every actor loads its own copy
    by name (`weights`: the same local weights file, reachable on every node). writers: "auto" (each
    actor writes its shards when it sees the partial entry, else the driver does) or "driver" (the
    driver writes every shard: for clusters whose nodes do not share the cache folder)."""
    if writers not in WRITERS:
        raise LayerScopeError(f"writers must be one of {', '.join(WRITERS)}; got {writers!r}.")
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
            return _compute(ray, model, dataset, final, batch_size, actors, weights, progress, writers)
    finally:
        if started:
            ray.shutdown()


def _compute(ray, model: Model, dataset: Dataset, final: Path, batch_size: int, actors: int | None,
             weights: str | None, progress, writers: str) -> Store:
    from analysis.descriptors.extract import _finalise

    n = len(dataset)
    key_parts = descriptor_key_parts(model, dataset)
    blocks = [(b.index, b.channels) for b in model.blocks]
    tmp = final.with_name(final.name + ".partial")
    if read_progress(tmp).get("key_parts") != json.loads(json.dumps(key_parts, default=str)):
        shutil.rmtree(tmp, ignore_errors=True)  # another key's partial, or a local run's: start clean
    shards.prepare(tmp, blocks, n)  # keeps the block files and finished shards of an interrupted run
    gpus = ray.cluster_resources().get("GPU", 0)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    n_actors = actors or max(1, int(gpus) if gpus else min(2, cpus))
    device = "cuda" if gpus else "cpu"
    record = {"engine": "torch", "precision": "fp32", "device": device, "dtype": "fp32", "runner": "ray",
              "ray": ray.__version__, "ray_actors": n_actors, "min_cosine_to_fp32": 1.0}
    write_json_atomic(tmp / "progress.json", {"key_parts": key_parts, "engine_record": record, "runner": "ray"})
    token = secrets.token_hex(16) if writers == "auto" else ""
    (tmp / "coordinator.json").write_text(token)  # workers that read this token see this very folder
    todo = shards.missing(tmp, n, SHARD_ROWS)
    t0 = time.time()
    if todo:
        driver = shards.ShardWriter(tmp, blocks, n)
        items = [{"start": s, "stop": e, "paths": dataset.paths[s:e]} for s, e in todo]
        data_config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.data_config.items()}
        ds = (ray.data.from_items(items, override_num_blocks=len(items))
              .map_batches(_Decode, fn_constructor_kwargs={"data_config": data_config}, batch_size=1,
                           concurrency=(1, max(1, cpus - n_actors)), batch_format="numpy")
              .map_batches(_Embed, fn_constructor_kwargs={
                  "name": model.name, "weights": weights, "device": device, "batch_size": batch_size,
                  "folder": str(tmp), "token": token, "blocks": blocks, "n": n},
                  batch_size=1, num_gpus=1 if gpus else 0, batch_format="numpy",
                  # One shard in flight per actor: a shard is seconds of work, so queueing more on the first
                  # actor that is ready would leave the others idle; actors spread over the nodes.
                  compute=ray.data.ActorPoolStrategy(size=n_actors, max_tasks_in_flight_per_actor=1),
                  scheduling_strategy="SPREAD"))
        finished, n_shards = n - sum(e - s for s, e in todo), len(shards.shard_ranges(n, SHARD_ROWS))
        done = n_shards - len(todo)
        nodes: dict[str, int] = {}
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for start, stop, err, written, feats, node in zip(batch["start"], batch["stop"], batch["error"],
                                                                  batch["written"], batch["feats"], batch["node"]):
                    if not written:  # the actor could not see the folder: its rows came back
                        driver.write(int(start), feats, {int(k): v for k, v in json.loads(str(err)).items()})
                    finished, done = finished + int(stop) - int(start), done + 1
                    nodes[str(node)] = nodes.get(str(node), 0) + 1
                    report(progress, finished, n, f"{done} of {n_shards} shards on disk")
        finally:
            driver.close()
        record.update(ray_nodes=len(nodes), ray_shards_per_node=sorted(nodes.values(), reverse=True),
                      ray_cluster_nodes=sum(1 for nd in ray.nodes() if nd.get("Alive")))
    seconds = time.time() - t0
    left = shards.missing(tmp, n, SHARD_ROWS)
    if left:
        raise LayerScopeError(f"{len(left)} shards of {len(shards.shard_ranges(n, SHARD_ROWS))} were not computed; "
                              "run again to resume.")
    errors = {str(r): e for marked in shards.done_shards(tmp).values() for r, e in marked.items()}
    return _finalise(model, dataset, tmp, final, key_parts, errors, record, seconds)
