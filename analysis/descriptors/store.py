"""The descriptor cache: one entry per (model, weights, preprocessing, dataset content, extractor).

Layout: <cache>/descriptors/<model>__<dataset>__<key>/
    block_1.npy .. block_N.npy   float32 (n_images, channels), opened memory-mapped
    rows.parquet                 one row per image: its path and every label column (`label:<name>`)
    manifest.json                n, blocks, failures, checksums (of the arrays and rows.parquet), provenance
An entry only appears under its final name once complete (built in a `.partial` folder, then
renamed), so readers never see half-written data; a corrupted entry is detected and removed.
The per-image columns sit in Parquet, not in the JSON manifest, so opening an entry reads a few KB
(a million paths and labels were 30 MB of JSON parsed on every open) and they are read only when
asked for. Entries of manifest version 1 (paths and labels inside manifest.json) still open.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.atomic import write_bytes_atomic, write_json_atomic
from analysis.data.hash_cache import file_hashes, table_file
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
# v2: paths and labels in rows.parquet (v1, still read: inline in manifest.json)
MANIFEST_VERSION = 2
READABLE_VERSIONS = (1, 2)
ROWS_FILE = "rows.parquet"
LABEL_PREFIX = "label:"  # label columns are stored as label:<name>, so a label named "path" is no clash


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


def _text_column(values: list[str]) -> pa.Array:
    """UTF-8 strings; names that are not valid UTF-8 (surrogate-escaped bytes) as raw bytes instead."""
    try:
        return pa.array(values, pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        return pa.array([v.encode("utf-8", "surrogateescape") for v in values], pa.binary())


def _text_values(col: pa.ChunkedArray) -> list[str]:
    if pa.types.is_binary(col.type):
        return [b.decode("utf-8", "surrogateescape") for b in col.to_pylist()]
    return col.to_pylist()


def write_rows(file: Path, paths: list[str], labels: dict[str, list[str]] | pd.DataFrame) -> None:
    """The per-image table of an entry (path + label columns, all strings) as Parquet, written atomically."""
    columns = {"path": _text_column([str(p) for p in paths])}
    for c in labels:
        columns[LABEL_PREFIX + str(c)] = _text_column([str(v) for v in labels[c]])
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), buf, compression="zstd")
    write_bytes_atomic(file, buf.getvalue().to_pybytes())


def read_paths(file: Path) -> list[str]:
    """The image paths of an entry's rows.parquet (only that column is read)."""
    return _text_values(pq.read_table(file, columns=["path"]).column(0))


def read_labels(file: Path) -> pd.DataFrame:
    """The label columns of an entry's rows.parquet, as strings in their stored order (paths not read)."""
    names = [n for n in pq.read_schema(file).names if n.startswith(LABEL_PREFIX)]
    if not names:
        return pd.DataFrame(index=pd.RangeIndex(pq.read_metadata(file).num_rows))
    t = pq.read_table(file, columns=names)
    labels = t.to_pandas()  # Arrow-backed strings: no Python object per label
    for name in names:
        if pa.types.is_binary(t.schema.field(name).type):
            labels[name] = _text_values(t.column(name))
    return labels.rename(columns=lambda n: n.removeprefix(LABEL_PREFIX))


def read_rows(file: Path) -> tuple[list[str], pd.DataFrame]:
    """(paths, labels) of an entry's rows.parquet."""
    return read_paths(file), read_labels(file)


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write an entry's manifest: its `paths` and `labels` (column -> values) go to rows.parquet (with
    a checksum in the manifest), the rest to manifest.json. rows.parquet is written first, so a
    manifest never points at a missing table."""
    m = {k: v for k, v in manifest.items() if k not in ("paths", "labels")}
    write_rows(folder / ROWS_FILE, manifest["paths"], manifest["labels"])
    m["manifest_version"] = MANIFEST_VERSION
    m["rows"] = {"file": ROWS_FILE, "sha256": file_sha256(folder / ROWS_FILE)}
    write_json_atomic(folder / "manifest.json", m)


@dataclass
class Store:
    """A complete cache entry: memory-mapped descriptors per block, with paths and labels."""

    path: Path
    manifest: dict[str, Any]
    # Read once, on first use (inline in a version-1 manifest, else from rows.parquet), each on its own:
    # a page that needs only the labels never reads a million paths.
    _paths: list[str] | None = field(default=None, init=False, repr=False, compare=False)
    _labels: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

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
        if self._paths is None:
            inline = self.manifest.get("paths")
            self._paths = list(inline) if inline is not None else read_paths(self.path / self.manifest["rows"]["file"])
        return list(self._paths)

    @property
    def labels(self) -> pd.DataFrame:
        if self._labels is None:
            inline = self.manifest.get("labels")
            self._labels = (pd.DataFrame(inline) if inline is not None
                            else read_labels(self.path / self.manifest["rows"]["file"]))
        return self._labels.copy(deep=False)  # copy-on-write: a caller's edit never reaches the store

    def label_values(self, label: str) -> np.ndarray:
        """One label column as an array; a column the dataset does not have is a LayerScopeError
        naming the columns it has (the one check every command and cached analysis makes)."""
        labels = self.labels
        if label not in labels.columns:
            raise LayerScopeError(f"no label column '{label}'; this dataset has {', '.join(labels.columns)}.")
        return labels[label].to_numpy()

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
        """None if intact, else what is wrong (shape/dtype and the rows table always; checksums when full).

        Checksums come from the hash cache (`analysis.data.hash_cache`): a file whose size, mtime and
        ctime are unchanged since it last matched is not read again, so opening a 20 GB entry does not
        read 20 GB; any write to a file changes its stat and makes it checked in full."""
        problem = self._verify_shapes() or self._verify_rows()
        if problem or not full:
            return problem
        checked = [(info["file"], info["sha256"]) for info in self.manifest["arrays"]]
        if "rows" in self.manifest:
            checked.append((self.manifest["rows"]["file"], self.manifest["rows"]["sha256"]))
        try:
            digests = file_hashes([str(self.path / f) for f, _ in checked], self.path).digests
        except OSError as exc:
            return f"{Path(exc.filename or '?').name} is unreadable ({exc.strerror})"
        for (name, want), got in zip(checked, digests):
            if got != want:
                return f"{name} does not match its checksum (file changed or corrupted)"
        return None

    def _verify_shapes(self) -> str | None:
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
        return None

    def _verify_rows(self) -> str | None:
        info = self.manifest.get("rows")
        if info is None:
            return None if "paths" in self.manifest else "the manifest lists neither paths nor rows.parquet"
        f = self.path / info["file"]
        try:
            rows = pq.read_metadata(f).num_rows
        except (OSError, pa.ArrowException) as exc:
            return f"{info['file']} is missing or unreadable ({exc})"
        if rows != self.n:
            return f"{info['file']} has {rows} rows, expected {self.n}"
        return None


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        m = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return m if m.get("manifest_version") in READABLE_VERSIONS else None


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
            table_file(d).unlink(missing_ok=True)  # its checksums in the hash cache
        except OSError as exc:
            raise LayerScopeError(f"Cannot remove {d} ({exc.strerror}): the cache folder is read-only for this user.") from None
        removed.append(d.name)
    return removed
