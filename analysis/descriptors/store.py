"""The descriptor cache: one entry per (model, weights, preprocessing, dataset content, extractor).

Layout: <cache>/descriptors/<model>__<dataset>__<key>/
    block_1.npy .. block_N.npy   float32 (n_images, channels), opened memory-mapped
    manifest.json                paths, labels, blocks, failures, checksums, provenance
An entry only appears under its final name once complete (built in a `.partial` folder, then
renamed), so readers never see half-written data; a corrupted entry is detected and removed.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.errors import LayerScopeError
from analysis.hashing import bytes_digest, file_digest
from analysis.models.blocks import Block
from analysis.paths import cache_root

if TYPE_CHECKING:  # annotation only: importing the model module here would be heavy or circular
    from analysis.models.model import Model

# v2: big JPEGs are decoded at reduced DCT scale (PIL draft) down to the model's resize side, which
# changes their pixels slightly. The engine (torch / OpenVINO) is NOT in the key: every engine's
# descriptors are checked to stay within cosine 0.999 of fp32 torch, and the manifest says which ran.
EXTRACTOR_VERSION = 2
MANIFEST_VERSION = 1


def cache_key(parts: dict[str, Any]) -> str:
    """The one cache key function: a short hash of the canonical JSON of `parts`."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return bytes_digest(blob.encode(), 16)


def descriptor_key_parts(model: Model, dataset) -> dict[str, Any]:
    return {
        "model": model.name,
        "arch": model.arch,
        "weights": model.weights_id,
        "preprocessing": model.preprocessing_id(),
        "blocks": [[b.module, b.channels] for b in model.blocks],
        "dataset": dataset.content_hash(),
        "extractor": EXTRACTOR_VERSION,
    }


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:40]


def entry_dir(model: Model, dataset) -> Path:
    key = cache_key(descriptor_key_parts(model, dataset))
    return cache_root() / "descriptors" / f"{_slug(model.name)}__{_slug(dataset.name)}__{key}"


def file_sha256(path: Path) -> str:
    """Full SHA-256 of a cache file (what the manifest records and `verify` checks)."""
    return file_digest(path, None)


@dataclass
class Store:
    """A complete cache entry: memory-mapped descriptors per block, with paths and labels."""

    path: Path
    manifest: dict[str, Any]

    @property
    def key(self) -> str:
        return self.path.name

    @property
    def n(self) -> int:
        return int(self.manifest["n"])

    @property
    def blocks(self) -> list[Block]:
        return [Block(**b) for b in self.manifest["blocks"]]

    @property
    def paths(self) -> list[str]:
        return list(self.manifest["paths"])

    @property
    def labels(self) -> pd.DataFrame:
        return pd.DataFrame(self.manifest["labels"])

    @property
    def failures(self) -> list[dict[str, str]]:
        return list(self.manifest.get("failures", []))

    def descriptors(self, block: int) -> np.ndarray:
        """(n, channels) float32, memory-mapped read-only (never copied into RAM by us)."""
        if not 1 <= block <= len(self.manifest["blocks"]):
            raise LayerScopeError(f"Block {block} does not exist (1..{len(self.manifest['blocks'])}).")
        return np.load(self.path / f"block_{block}.npy", mmap_mode="r", allow_pickle=False)

    def block_arrays(self) -> dict[str, np.ndarray]:
        """{"block 1": memory-mapped (n, C) descriptors, …} in block order (nothing copied):
        the input every per-block analysis (report, curves, layouts) takes."""
        return {b.name: self.descriptors(b.index) for b in self.blocks}

    def verify(self, full: bool = True) -> str | None:
        """None if intact, else what is wrong (shape/dtype always; checksums when full)."""
        for b, info in zip(self.manifest["blocks"], self.manifest["arrays"]):
            f = self.path / info["file"]
            if not f.is_file():
                return f"{f.name} is missing"
            try:
                arr = np.load(f, mmap_mode="r", allow_pickle=False)
            except Exception as exc:  # truncated header, wrong magic, ...
                return f"{f.name} is unreadable ({exc})"
            if arr.shape != (self.n, b["channels"]) or arr.dtype != np.float32:
                return f"{f.name} has shape {arr.shape} {arr.dtype}, expected ({self.n}, {b['channels']}) float32"
            if full and file_sha256(f) != info["sha256"]:
                return f"{f.name} does not match its checksum (file changed or corrupted)"
        return None


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        m = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return m if m.get("manifest_version") == MANIFEST_VERSION else None


def open_entry(path: Path, verify: bool = True) -> tuple[Store | None, str | None]:
    """Open a complete entry. Returns (store, None), or (None, reason) after removing a corrupt one."""
    if not path.is_dir():
        return None, None
    manifest = read_manifest(path)
    problem = "manifest.json is missing or unreadable" if manifest is None else None
    store = Store(path, manifest) if manifest else None
    if store is not None:
        problem = store.verify(full=verify)
    if problem:
        # Corrupted data is never served: drop it so the next extraction recomputes it.
        shutil.rmtree(path, ignore_errors=True)
        return None, f"Cached descriptors in {path.name} were corrupted ({problem}); removed, they will be recomputed."
    return store, None


def list_entries() -> pd.DataFrame:
    """One row per cache entry (complete or partial) with its size on disk."""
    root = cache_root() / "descriptors"
    rows = []
    for d in sorted(root.glob("*")) if root.is_dir() else []:
        if not d.is_dir():
            continue
        m = read_manifest(d)
        size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        status = "complete" if m else ("partial" if d.name.endswith(".partial") else "unreadable")
        rows.append({
            "entry": d.name, "status": status, "model": (m or {}).get("model", ""),
            "dataset": (m or {}).get("dataset_name", ""), "images": (m or {}).get("n", ""),
            "MB": round(size / 1e6, 1), "created": (m or {}).get("provenance", {}).get("time", ""),
        })
    return pd.DataFrame(rows, columns=["entry", "status", "model", "dataset", "images", "MB", "created"])


def clear_entries(name: str | None = None) -> list[str]:
    """Remove one entry (by folder name or prefix) or all; returns what was removed.

    An empty or blank name is refused (it would match every entry); entries being computed right now
    (locked) are left alone."""
    from analysis.descriptors.lock import is_locked

    if name is not None and not name.strip():
        raise LayerScopeError("An empty entry name would match every entry: give a name or prefix from "
                              "`layerscope cache list`, or no name at all to clear everything.")
    root = cache_root() / "descriptors"
    targets = [d for d in root.glob("*") if d.is_dir() and (name is None or d.name.startswith(name))] if root.is_dir() else []
    if name is not None and not targets:
        raise LayerScopeError(f"No cache entry starts with '{name}'. See `python -m analysis cache list`.")
    removed = []
    for d in targets:
        base = d.with_name(d.name.removesuffix(".partial").removesuffix(".building"))
        if is_locked(base):
            continue  # another session or command is computing it
        try:
            shutil.rmtree(d)
        except OSError as exc:
            raise LayerScopeError(f"Cannot remove {d} ({exc.strerror}): the cache folder is read-only for this user.") from None
        removed.append(d.name)
    return removed
