"""Datasets: ImageFolder, CSV manifest, the built-in garments set and Fashion-MNIST.

A Dataset is a list of image paths with a table of label columns (several columns may label the
same images, e.g. colour and pattern) plus the problems found while scanning, so the UI can list
the offending files while the readable images are still used.
"""
from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from analysis.data.images import is_image_name
from analysis.errors import LayerScopeError
from analysis.paths import cache_root

PATH_COLUMNS = ("path", "file", "filename", "image", "img")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
Progress = Callable[[int, int], None]


@dataclass
class Problem:
    path: str
    reason: str


@dataclass
class Dataset:
    """Images (absolute paths) with label columns; `problems` lists what was skipped and why."""

    name: str
    root: Path
    paths: list[str]
    labels: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def label_columns(self) -> list[str]:
        return list(self.labels.columns)

    def class_counts(self, column: str) -> pd.Series:
        return self.labels[column].value_counts().sort_index()

    def content_hash(self) -> str:
        """Hash of every image's bytes and of the labels: any change gives a new cache entry."""
        h = hashlib.sha256()
        for p in self.paths:
            h.update(p.encode())
            h.update(_file_hash(Path(p)).encode())
        h.update(self.labels.to_csv(index=False).encode())
        return h.hexdigest()[:20]

    def subset(self, keep: np.ndarray) -> Dataset:
        keep = np.asarray(keep)
        return Dataset(self.name, self.root, [self.paths[i] for i in keep],
                       self.labels.iloc[keep].reset_index(drop=True), list(self.problems), list(self.warnings))


_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def _file_hash(path: Path) -> str:
    # Memoised on (path, size, mtime) so re-opening an unchanged folder does not re-read it.
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASH_MEMO:
        _HASH_MEMO[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return _HASH_MEMO[key]


def _check(ds: Dataset) -> Dataset:
    if not ds.paths:
        listed = "; ".join(f"{p.path}: {p.reason}" for p in ds.problems[:5])
        raise LayerScopeError(
            f"No usable images in {ds.root}. " + (f"Problems: {listed}. " if listed else "")
            + "Expected one sub-folder per class with image files (.jpg, .png, ...), or a CSV with a "
            "'path' column and label columns."
        )
    for col in ds.label_columns:
        counts = ds.labels[col].value_counts()
        if len(counts) < 2:
            ds.warnings.append(f"Label column '{col}' has a single class ({counts.index[0]}): accuracy and "
                               "clustering views need at least two.")
    return ds


def open_folder(root: str | Path) -> Dataset:
    """ImageFolder: one sub-folder per class; files directly in the root are reported, not used."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise LayerScopeError(f"{root}: folder not found.")
    paths, labels, problems, warn = [], [], [], []
    for item in sorted(root.iterdir()):
        if item.name.startswith("."):
            continue
        if item.is_file():
            problems.append(Problem(str(item), "file outside a class sub-folder (ignored)"))
            continue
        files = sorted(p for p in item.rglob("*") if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if is_image_name(p)]
        problems += [Problem(str(p), "not an image file extension (ignored)") for p in files if not is_image_name(p)]
        if not images:
            warn.append(f"Class folder '{item.name}' is empty (no images): class left out.")
        paths += [str(p) for p in images]
        labels += [item.name] * len(images)
    return _check(Dataset(root.name, root, paths, pd.DataFrame({"label": labels}), problems, warn))


def open_csv(csv_path: str | Path) -> Dataset:
    """CSV manifest: a path column (path/file/filename/image) and one or more label columns."""
    csv_path = Path(csv_path).expanduser().resolve()
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise LayerScopeError(f"{csv_path}: cannot read as CSV ({exc}).") from exc
    cols = {c.lower().strip(): c for c in table.columns}
    path_col = next((cols[c] for c in PATH_COLUMNS if c in cols), None)
    if path_col is None:
        raise LayerScopeError(f"{csv_path}: no path column. Name the image column one of {', '.join(PATH_COLUMNS)}.")
    label_cols = [c for c in table.columns if c != path_col]
    if not label_cols:
        raise LayerScopeError(f"{csv_path}: no label column besides '{path_col}'. Add e.g. 'colour' or 'label'.")
    problems, keep, paths = [], [], []
    for i, rel in enumerate(table[path_col]):
        p = (csv_path.parent / rel).resolve() if rel else None
        if p is None or not p.is_file():
            problems.append(Problem(str(p or f"row {i + 2}"), f"listed in {csv_path.name} row {i + 2} but missing"))
        elif not is_image_name(p):
            problems.append(Problem(str(p), "not an image file extension (ignored)"))
        else:
            keep.append(i)
            paths.append(str(p))
    labels = table.iloc[keep][label_cols].reset_index(drop=True)
    name = csv_path.parent.name if csv_path.stem in ("labels", "manifest") else csv_path.stem
    return _check(Dataset(name, csv_path.parent, paths, labels, problems))


def garments_dir(n: int, size: int, seed: int) -> Path:
    from analysis.data.garments import GENERATOR_VERSION

    return cache_root() / "datasets" / f"garments-v{GENERATOR_VERSION}-n{n}-s{size}-seed{seed}"


def open_garments(n: int = 1000, size: int = 224, seed: int = 0, progress: Progress | None = None) -> Dataset:
    """The built-in colour x pattern set, generated once into the cache (atomically) and reused."""
    from analysis.data.garments import generate

    out = garments_dir(n, size, seed)
    if not (out / "labels.csv").is_file():
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        generate(tmp, n=n, size=size, random_state=seed, progress=progress)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)  # only a complete set ever appears under the final name
    ds = open_csv(out / "labels.csv")
    ds.name = "garments"
    return ds


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise LayerScopeError(f"{path}: not an unsigned-byte IDX file.")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find_idx(root: Path, stem: str) -> Path:
    for p in sorted(root.rglob(f"{stem}*")):
        if p.is_file() and p.name.startswith(stem):
            return p
    raise LayerScopeError(
        f"Fashion-MNIST file {stem}* not found under {root}. Install Debian's dataset-fashion-mnist "
        "package (apt-get install dataset-fashion-mnist) or pass the folder holding the IDX files."
    )


def open_fashion_mnist(root: str | Path = FASHION_MNIST_DIR, split: str = "t10k", n: int | None = 2000) -> Dataset:
    """Fashion-MNIST from its IDX files, exported once as PNGs (first n images of the split)."""
    root = Path(root)
    images = _read_idx(_find_idx(root, f"{split}-images"))
    labels = _read_idx(_find_idx(root, f"{split}-labels"))
    n = len(images) if n is None else min(n, len(images))
    out = cache_root() / "datasets" / f"fashion-mnist-{split}-n{n}"
    if not (out / "labels.csv").is_file():
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "images").mkdir(parents=True)
        rows = []
        for i in range(n):
            rel = f"images/{i:05d}.png"
            Image.fromarray(images[i]).save(tmp / rel)
            rows.append({"path": rel, "label": FASHION_CLASSES[labels[i]]})
        pd.DataFrame(rows).to_csv(tmp / "labels.csv", index=False)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    ds = open_csv(out / "labels.csv")
    ds.name = "fashion-mnist"
    return ds


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """'garments:n=200,size=128' -> ('garments', {'n': '200', 'size': '128'})."""
    name, _, opts = spec.partition(":")
    kv = dict(o.split("=", 1) for o in opts.split(",") if "=" in o)
    return name, kv


def open_dataset(spec: str, progress: Progress | None = None) -> Dataset:
    """Open `garments[:n=..,size=..,seed=..]`, `fashion-mnist[:n=..]`, a folder or a CSV file."""
    name, kv = parse_spec(spec)
    try:
        if name == "garments":
            return open_garments(int(kv.get("n", 1000)), int(kv.get("size", 224)), int(kv.get("seed", 0)), progress)
        if name == "fashion-mnist":
            return open_fashion_mnist(kv.get("root", FASHION_MNIST_DIR), kv.get("split", "t10k"), int(kv.get("n", 2000)))
    except ValueError as exc:
        if isinstance(exc, LayerScopeError):
            raise
        raise LayerScopeError(f"Bad dataset options in '{spec}': {exc}. Example: garments:n=1000,size=224") from exc
    path = Path(spec).expanduser()
    if path.is_dir():
        return open_folder(path)
    if path.is_file() and path.suffix.lower() in (".csv", ".tsv"):
        return open_csv(path)
    raise LayerScopeError(
        f"'{spec}' is not a dataset: give 'garments', 'fashion-mnist', an image folder with one "
        "sub-folder per class, or a CSV file with a path column and label columns."
    )
