"""Datasets: ImageFolder, CSV manifest, the built-in garments set and Fashion-MNIST.

A Dataset is a list of image paths with a table of label columns (several columns may label the
same images, e.g. colour and pattern) plus the problems found while scanning, so the UI can list
the offending files while the readable images are still used.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from analysis.data.hash_cache import Hashes, file_hashes
from analysis.data.images import is_image_name, shown
from analysis.data.roots import is_within, require_within
from analysis.errors import LayerScopeError
from analysis.paths import cache_root
from analysis.progress import Progress

PATH_COLUMNS = ("path", "file", "filename", "image", "img")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
FASHION_SPLITS = {"test": "t10k", "t10k": "t10k", "train": "train"}
MAX_SCAN = 100_000  # folders + non-image files walked before a folder is called "not a dataset" (e.g. /)
OUTSIDE = "outside the data root (not shown)"


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

    def content_hash(self, verify: bool = False, progress: Progress | None = None) -> str:
        """Hash of every image's bytes and of the labels: any change gives a new cache entry.

        File hashes come from the on-disk hash cache (`analysis.data.hash_cache`): a file is re-read
        only when its size, mtime or ctime changed. `verify` re-reads every file, ignoring the cache."""
        h = hashlib.sha256()
        for p, digest in zip(self.paths, self._file_hashes(verify, progress).digests):
            h.update(os.fsencode(p))  # file names need not be UTF-8
            h.update(digest[:16].encode())  # 16 hex characters, as before the hash cache: keys unchanged
        h.update(self.labels.to_csv(index=False).encode("utf-8", "surrogateescape"))
        return h.hexdigest()[:20]

    def verify_hashes(self, progress: Progress | None = None) -> list[str]:
        """Re-read and re-hash every image, ignoring (and refreshing) the hash cache; returns the images
        whose remembered hash was wrong although their size and times had not changed."""
        return self._file_hashes(True, progress).stale

    def _file_hashes(self, verify: bool, progress: Progress | None = None) -> Hashes:
        try:
            return file_hashes(self.paths, self.root, verify=verify, progress=progress)
        except OSError as exc:
            raise LayerScopeError(f"{shown(exc.filename or self.root)} changed or disappeared after the dataset was "
                                  f"opened ({exc.strerror}): open the dataset again.") from None

    def subset(self, keep: np.ndarray) -> Dataset:
        keep = np.asarray(keep)
        return Dataset(self.name, self.root, [self.paths[i] for i in keep],
                       self.labels.iloc[keep].reset_index(drop=True), list(self.problems), list(self.warnings))


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


def _walk_files(folder: Path, problems: list[Problem], budget: list[int]) -> list[Path]:
    """Files under `folder` (hidden ones skipped, links to folders not followed); unreadable
    folders become problems instead of a PermissionError; a huge tree (e.g. /) is refused."""
    out: list[Path] = []

    def onerror(err: OSError) -> None:
        problems.append(Problem(shown(err.filename or folder), f"cannot be read ({err.strerror})"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        budget[0] -= len(dirnames) + sum(1 for f in filenames if not is_image_name(f))
        if budget[0] < 0:
            raise LayerScopeError(f"{shown(folder.parent)} holds more than {MAX_SCAN:,} folders and non-image files: that is "
                                  "not an image dataset. Point to the folder with one sub-folder per class.")
        out += [Path(dirpath) / f for f in sorted(filenames) if not f.startswith(".")]
    return out


def open_folder(root: str | Path, roots: list[Path] | None = None) -> Dataset:
    """ImageFolder: one sub-folder per class; files directly in the root are reported, not used.

    With `roots` (the dashboard), files that resolve outside them (symlinks) are left out unnamed."""
    root = Path(root).expanduser()
    require_within(root, roots, "folder")
    root = root.resolve()
    if not root.is_dir():
        raise LayerScopeError(f"{shown(root)}: folder not found.")
    paths, labels, problems, warn = [], [], [], []
    budget = [MAX_SCAN]
    try:
        items = sorted(root.iterdir())
    except OSError as exc:
        raise LayerScopeError(f"{shown(root)}: cannot list the folder ({exc.strerror}).") from None
    for item in items:
        if item.name.startswith("."):
            continue
        try:
            is_file, is_dir = item.is_file(), item.is_dir()
        except OSError:
            is_file = is_dir = False
        if is_file:
            problems.append(Problem(shown(item), "file outside a class sub-folder (ignored)"))
            continue
        if not is_dir:
            continue
        files = _walk_files(item, problems, budget)
        if roots is not None:
            inside = [p for p in files if is_within(p, roots)]
            problems += [Problem(OUTSIDE, "a link to a file outside the data root (ignored)")] * (len(files) - len(inside))
            files = inside
        images = [p for p in files if is_image_name(p)]
        problems += [Problem(shown(p), "not an image file extension (ignored)") for p in files if not is_image_name(p)]
        cls = shown(item.name)  # a non-UTF-8 folder name still gives a printable class label
        if not images:
            warn.append(f"Class folder '{cls}' is empty (no images): class left out.")
        paths += [str(p) for p in images]
        labels += [cls] * len(images)
    return _check(Dataset(shown(root.name), root, paths, pd.DataFrame({"label": labels}), problems, warn))


def open_csv(csv_path: str | Path, roots: list[Path] | None = None) -> Dataset:
    """CSV (or .tsv: tab-separated) manifest: a path column (path/file/filename/image) and one or more
    label columns. With `roots` (the dashboard), listed paths outside them are left out unnamed."""
    require_within(csv_path, roots, "CSV file")
    csv_path = Path(csv_path).expanduser().resolve()
    sep = "\t" if csv_path.suffix.lower() == ".tsv" else ","
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False, sep=sep)
    except Exception as exc:
        raise LayerScopeError(f"{shown(csv_path)}: cannot read as {'TSV' if sep != ',' else 'CSV'} ({exc}).") from exc
    cols = {c.lower().strip(): c for c in table.columns}
    path_col = next((cols[c] for c in PATH_COLUMNS if c in cols), None)
    if path_col is None:
        raise LayerScopeError(f"{csv_path}: no path column. Name the image column one of {', '.join(PATH_COLUMNS)}.")
    label_cols = [c for c in table.columns if c != path_col]
    if not label_cols:
        raise LayerScopeError(f"{csv_path}: no label column besides '{path_col}'. Add e.g. 'colour' or 'label'.")
    problems, keep, paths, warn = [], [], [], []
    first_row: dict[str, int] = {}
    conflicts = dups = 0
    for i, rel in enumerate(table[path_col]):
        p = (csv_path.parent / rel).resolve() if rel else None
        if p is not None and roots is not None and not is_within(p, roots):
            problems.append(Problem(OUTSIDE, f"{csv_path.name} row {i + 2} points outside the data root (ignored)"))
        elif p is None or not p.is_file():
            problems.append(Problem(shown(p) if p else f"row {i + 2}", f"listed in {csv_path.name} row {i + 2} but missing"))
        elif not is_image_name(p):
            problems.append(Problem(shown(p), "not an image file extension (ignored)"))
        elif str(p) in first_row:
            # The same image twice would sit in both training and test folds; with other labels it is
            # contradictory. Keep the first row, say so.
            j = first_row[str(p)]
            same = (table.iloc[j][label_cols] == table.iloc[i][label_cols]).all()
            conflicts += 0 if same else 1
            dups += 1
            problems.append(Problem(shown(p), f"{csv_path.name} row {i + 2} repeats row {j + 2}"
                                    + ("" if same else " with different labels") + " (first row kept)"))
        else:
            first_row[str(p)] = i
            keep.append(i)
            paths.append(str(p))
    if dups:
        warn.append(f"{dups} duplicate row(s) in {csv_path.name}" + (f", {conflicts} with conflicting labels" if conflicts else "")
                    + ": only the first row of each image is used (see the skipped files).")
    labels = table.iloc[keep][label_cols].reset_index(drop=True)
    name = csv_path.parent.name if csv_path.stem in ("labels", "manifest") else csv_path.stem
    return _check(Dataset(shown(name), csv_path.parent, paths, labels, problems, warn))


def garments_dir(n: int, size: int, seed: int, background: str = "studio") -> Path:
    from analysis.data.garments import GENERATOR_VERSION

    return cache_root() / "datasets" / f"garments-v{GENERATOR_VERSION}-{background}-n{n}-s{size}-seed{seed}"


GARMENTS_OPTIONS = ("n", "size", "seed", "background")


def open_garments(n: int = 1000, size: int = 224, seed: int = 0, progress: Progress | None = None,
                  background: str = "studio") -> Dataset:
    """The built-in colour x pattern set, generated once into the cache (atomically) and reused.

    background: "studio" (product photos, default), "plain" (flat white) or "mixed" (busy scenes)."""
    from analysis.data.garments import generate
    from analysis.data.garments.render import check_background

    out = garments_dir(n, size, seed, check_background(background))
    if not (out / "labels.csv").is_file():
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        generate(tmp, n=n, size=size, random_state=seed, progress=progress, background=background)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)  # only a complete set ever appears under the final name
    ds = open_csv(out / "labels.csv")
    ds.name = "garments" if background == "studio" else f"garments-{background}"
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


def stratified_sample(labels: np.ndarray, n: int, random_state: int = 0) -> np.ndarray:
    """Sorted indices of `n` items keeping every class's share (seeded), instead of the first n."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(random_state)
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.floor(counts * n / len(labels)).astype(int)
    for j in np.argsort(-(counts * n / len(labels) - quota), kind="stable")[: n - quota.sum()]:
        quota[j] += 1  # largest remainders get the last places
    picks = [rng.choice(np.flatnonzero(labels == c), size=q, replace=False) for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(picks))


def open_fashion_mnist(root: str | Path = FASHION_MNIST_DIR, split: str = "t10k", n: int | None = 2000,
                       seed: int = 0) -> Dataset:
    """Fashion-MNIST from its IDX files, exported once as PNGs: a class-stratified sample of n images
    of the split ('test' = 't10k', or 'train'), drawn with `seed`."""
    root = Path(root)
    if split not in FASHION_SPLITS:
        raise LayerScopeError(f"Fashion-MNIST split '{split}' does not exist: use test or train.")
    split = FASHION_SPLITS[split]
    images = _read_idx(_find_idx(root, f"{split}-images"))
    labels = _read_idx(_find_idx(root, f"{split}-labels"))
    if n is not None and n < 1:
        raise LayerScopeError(f"fashion-mnist needs n >= 1, got n={n}.")
    keep = stratified_sample(labels, len(labels) if n is None else n, seed)
    n = len(keep)
    out = cache_root() / "datasets" / f"fashion-mnist-{split}-n{n}-strat{seed}"
    if not (out / "labels.csv").is_file():
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "images").mkdir(parents=True)
        rows = []
        for i in keep:
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


def open_dataset(spec: str, progress: Progress | None = None, roots: list[Path] | None = None) -> Dataset:
    """Open `garments[:n=..,size=..,seed=..,background=studio|plain|mixed]`, `fashion-mnist[:split=test|train,n=..,seed=..]`, a folder
    or a CSV/TSV file. `roots` (the dashboard's data root) restricts which folders and files may be read;
    None (the CLI) reads anything."""
    name, kv = parse_spec(spec)
    try:
        if name == "garments":
            unknown = sorted(set(kv) - set(GARMENTS_OPTIONS))
            if unknown:
                raise LayerScopeError(f"Unknown garments option(s) {', '.join(unknown)} in '{spec}': use "
                                      f"{', '.join(GARMENTS_OPTIONS)}, e.g. garments:n=500,background=mixed.")
            return open_garments(int(kv.get("n", 1000)), int(kv.get("size", 224)), int(kv.get("seed", 0)), progress,
                                 kv.get("background", "studio"))
        if name == "fashion-mnist":
            root = Path(kv.get("root", FASHION_MNIST_DIR))
            if root != FASHION_MNIST_DIR:
                require_within(root, roots, "Fashion-MNIST folder")
            return open_fashion_mnist(root, kv.get("split", "t10k"), int(kv.get("n", 2000)), int(kv.get("seed", 0)))
    except ValueError as exc:
        if isinstance(exc, LayerScopeError):
            raise
        raise LayerScopeError(f"Bad dataset options in '{spec}': {exc}. Example: garments:n=1000,size=224") from exc
    path = Path(spec).expanduser()
    require_within(path, roots, "path")  # before looking at it: nothing about outside paths leaks
    if path.is_dir():
        return open_folder(path, roots)
    if path.is_file() and path.suffix.lower() in (".csv", ".tsv"):
        return open_csv(path, roots)
    raise LayerScopeError(
        f"'{spec}' is not a dataset: give 'garments', 'fashion-mnist', an image folder with one "
        "sub-folder per class, or a CSV file with a path column and label columns."
    )


def spec_fingerprint(spec: str) -> tuple:
    """Cheap stamp of a folder / CSV dataset (mtime and size of the CSV, the folder and its class
    sub-folders): it changes when an image is added or deleted, so a long-lived app reopens it."""
    name, _ = parse_spec(spec)
    if name in ("garments", "fashion-mnist") or not spec:
        return ()
    path = Path(spec).expanduser()
    stamps: list[tuple] = []
    try:
        entries = [path] + (sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else [path.parent])
        for p in entries:
            st = p.stat()
            stamps.append((p.name, st.st_mtime_ns, st.st_size))
    except OSError:
        return ("unreadable",)
    return tuple(stamps)
