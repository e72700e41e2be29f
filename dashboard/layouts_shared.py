"""What the two layout pages (views/umap_view.py, views/gridcut.py) share.

- Controls that follow the user from one page to the other (block, colour, UMAP parameters):
  each page has its own widget keys (Streamlit drops a widget's state when its page is not
  shown), initialised from and written back to one plain session_state dict.
- The aligned UMAP maps of all blocks: on disk with `results_cache.cached_arrays` (survives a
  restart) and in process (an LRU held by st.cache_resource); numba's JIT warm-up is paid once
  per process (st.cache_resource).
- Thumbnails of the dataset (on disk + in process).
- The linked selection: image indices in st.session_state, keyed by store.key, written by
  either page's plotly selection and highlighted by both.
- GridCut's cell sizes, and the default one that keeps a first picture light.
No maths here: everything is computed by `analysis`.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from analysis.descriptors.store import Store
from analysis.layouts import cached

# The cache entries themselves (and their versions) are defined once, in the library.
from analysis.layouts.cached import MAPS_VERSION, THUMB_SIDE, UMAP_DEFAULTS, Maps  # noqa: F401
from analysis.layouts.gridcut import grid_shape
from analysis.layouts.umap_maps import warm_up
from analysis.probes.clustering import cluster_block, cluster_names
from analysis.probes.reduction import UMAP_METRICS
from dashboard.safe_io import show_images

SHARED = "layout_params"
CLUSTER = "HDBSCAN cluster (on this map)"
GRID_CELLS = (16, 24, 32, 48, 64)  # GridCut cell sizes offered (px)
GRID_CELL = 48
# GridCut's default cell size keeps the first picture within this many pixels a side: a first visit
# of the 1000 built-in images (32 × 32 cells) sends a 1024-px picture instead of a 1536-px one, about
# a third of the bytes for the browser to receive and decode (the grid is drawn ~600-750 px wide
# anyway). Larger cells, sharper when zoomed, are one click on the slider.
GRID_FIRST_SIDE = 1024


def shared() -> dict[str, Any]:
    return st.session_state.setdefault(SHARED, {})


def persistent(widget: Callable, label: str, name: str, default: Any, page: str, **kwargs) -> Any:
    """A widget whose value is shared by both layout pages (key `<page>_<name>`)."""
    values = shared()
    key = f"{page}_{name}"
    if key not in st.session_state:
        st.session_state[key] = values.get(name, default)
    value = widget(label, key=key, **kwargs)
    values[name] = value
    return value


def block_choice(store: Store, page: str) -> tuple[str, int]:
    names = [b.name for b in store.blocks]
    if shared().get("block") not in names:
        shared()["block"] = names[min(1, len(names) - 1)]  # block 2: colour separates early
        st.session_state.pop(f"{page}_block", None)
    name = persistent(st.radio, "Block", "block", names[0], page, options=names, horizontal=True,
                      help="Maps of all blocks are aligned: switching block keeps the picture in place.")
    return name, names.index(name) + 1


def colour_choice(store: Store, sel_label: str, page: str, allow_clusters: bool) -> str:
    """Colour column: any label column (default: the sidebar's), or HDBSCAN clusters."""
    options = list(store.labels.columns) + ([CLUSTER] if allow_clusters else [])
    values = shared()
    key = f"{page}_colour"
    if values.get("sidebar_label") != sel_label or values.get("colour") not in options:
        values["colour"] = sel_label  # the sidebar's label column changed: follow it
        st.session_state.pop(key, None)
    values["sidebar_label"] = sel_label
    return persistent(st.selectbox, "Colour by", "colour", sel_label, page, options=options)


def grid_default_cell(n: int) -> int:
    """GRID_CELL px, or the largest offered size at which the grid of n images fits GRID_FIRST_SIDE px."""
    side = max(grid_shape(n))
    fits = [c for c in GRID_CELLS if c <= GRID_CELL and c * side <= GRID_FIRST_SIDE]
    return fits[-1] if fits else GRID_CELLS[0]


def umap_params(page: str) -> dict[str, Any]:
    """UMAP parameters (shared by both pages: the grid is made from the map you see)."""
    with st.expander("UMAP parameters (shared by the UMAP and GridCut pages)"):
        c = st.columns(4)
        with c[0]:
            nn = persistent(st.slider, "n_neighbors", "n_neighbors", UMAP_DEFAULTS["n_neighbors"], page,
                            min_value=2, max_value=100,
                            help="Small: local detail, many small islands. Large: global shape.")
        with c[1]:
            md = persistent(st.slider, "min_dist", "min_dist", UMAP_DEFAULTS["min_dist"], page,
                            min_value=0.0, max_value=0.99, step=0.01,
                            help="How tightly points may pack: 0 = dense clumps, larger = even spread.")
        with c[2]:
            metric = persistent(st.selectbox, "metric", "metric", UMAP_DEFAULTS["metric"], page, options=list(UMAP_METRICS))
        with c[3]:
            seed = persistent(st.number_input, "seed", "seed", UMAP_DEFAULTS["seed"], page, min_value=0,
                              max_value=2**31 - 1, step=1, help="Same seed, same map (UMAP runs single-threaded).")
    return {"n_neighbors": int(nn), "min_dist": round(float(md), 4), "metric": str(metric), "seed": int(seed)}


# ----------------------------------------------------------------------------- in-process caches


class _LRU:
    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


@st.cache_resource
def memo(kind: str, size: int = 8) -> _LRU:
    """One in-process LRU per kind of result (maps, thumbnails, grids, composites)."""
    return _LRU(size)


@st.cache_resource(show_spinner="Compiling UMAP (numba; once per process, ~5-15 s)…")
def umap_warm_up() -> float:
    return warm_up(random_state=0)


class _Bar:
    """A st.progress bar made on the first progress report (none at all when the result is on disk)."""

    def __init__(self, text: str) -> None:
        self.text, self.bar = text, None

    def __call__(self, done: int, total: int, note: str = "") -> None:
        if self.bar is None:
            self.bar = st.progress(0.0, text=self.text)
        self.bar.progress(min(done / max(total, 1), 1.0), text=f"{self.text} {note}: {done} / {total}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.empty()


def aligned_maps(store: Store, params: dict[str, Any]) -> Maps:
    """The aligned 2-D UMAP map of every block (disk cache via the library + in-process LRU)."""
    key = tuple(sorted((k, str(v)) for k, v in cached.maps_parts(store, params).items()))
    hit = memo("maps").get(key)
    if hit is not None:
        return hit
    bar = _Bar(f"UMAP of {len(store.blocks)} blocks × {store.n} images…")
    maps = cached.aligned_maps(store, params, progress=bar)
    bar.close()
    memo("maps").put(key, maps)
    return maps


def thumbs(store: Store, side: int = THUMB_SIDE) -> np.ndarray:
    """(n, side, side, 3) uint8 thumbnails of the store's images (disk cache + in process)."""
    key = (store.key, side)
    hit = memo("thumbs", 4).get(key)
    if hit is not None:
        return hit
    bar = _Bar("Making thumbnails (once)…")
    t = cached.store_thumbnails(store, side, progress=bar)
    bar.close()
    memo("thumbs", 4).put(key, t)
    return t


@st.cache_data(show_spinner="HDBSCAN on the map…", max_entries=32)
def hdbscan_on_map(store_key: str, block: str, params_key: str, label: str, _coords: np.ndarray,
                   _X: np.ndarray, _y: np.ndarray) -> dict[str, Any]:
    """HDBSCAN clusters of the 2-D map shown, scored against `label` (cached per map + label)."""
    r = cluster_block(_X, _y, embedding=np.asarray(_coords, dtype=np.float64), random_state=0)
    return {"names": cluster_names(r.clusters), "ari": r.ari, "ami": r.ami, "n_clusters": r.n_clusters,
            "noise": r.noise_fraction, "min_cluster_size": r.params["min_cluster_size"]}


def colour_values(store: Store, colour: str, block: str, params: dict[str, Any], coords: np.ndarray,
                  sel_label: str) -> tuple[np.ndarray, str | None]:
    """Text value per image for the colour choice, and a caption (HDBSCAN scores) or None."""
    labels = store.labels
    if colour != CLUSTER:
        return labels[colour].astype(str).to_numpy(dtype=object), None
    b = [x.name for x in store.blocks].index(block) + 1
    res = hdbscan_on_map(store.key, block, repr(sorted(params.items())), sel_label, coords,
                         store.descriptors(b), labels[sel_label].to_numpy())
    cap = (f"HDBSCAN on this 2-D map: {res['n_clusters']} clusters, {res['noise']:.0%} noise "
           f"(min_cluster_size {res['min_cluster_size']}); against **{sel_label}**: ARI {res['ari']:.2f}, "
           f"AMI {res['ami']:.2f}. The Clustering page clusters a 5-D UMAP instead.")
    return np.asarray(res["names"], dtype=object), cap


# ----------------------------------------------------------------------------- linked selection


def selection_key(store: Store) -> str:
    return f"layout_selection::{store.key}"


def get_selection(store: Store) -> list[int]:
    return [int(i) for i in st.session_state.get(selection_key(store), []) if 0 <= int(i) < store.n]


def set_selection(store: Store, idx: list[int]) -> None:
    st.session_state[selection_key(store)] = [int(i) for i in idx]


def selected_indices(points: Iterable[Mapping[str, Any]] | None, n: int) -> list[int]:
    """Image indices from the points of a Streamlit plotly selection.

    Every selectable trace carries the image index as ``customdata[0]`` (point_index is per
    trace, so it cannot be used when there is one trace per label). Points without it (e.g. a
    legend-only trace) and out-of-range indices are ignored; duplicates are dropped; the
    order is ascending."""
    out: set[int] = set()
    for p in points or []:
        cd = p.get("customdata") if isinstance(p, Mapping) else None
        if isinstance(cd, (list, tuple)) and cd:
            cd = cd[0]
        try:
            i = int(cd)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if 0 <= i < n:
            out.add(i)
    return sorted(out)


def absorb_selection(store: Store, event: Any) -> bool:
    """Store a new plotly selection as the linked selection; True when it changed.

    An empty selection never clears it (a redrawn chart starts empty): the Clear button does."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return False
    idx = selected_indices(points, store.n)
    if idx and idx != get_selection(store):
        set_selection(store, idx)
        return True
    return False


def show_selection(store: Store, page: str, max_images: int = 60, single: int = 224, many: int = 96) -> None:
    """The selected images with their labels, a Clear button and a CSV download (fits a side column)."""
    idx = get_selection(store)
    if not idx:
        st.caption("Click a point (or draw a box / lasso) to see the images here. The selection is "
                   "linked: it stays highlighted in every block and on the other layout page.")
        return
    labels = store.labels
    st.markdown(f"**{len(idx)} image(s) selected** — highlighted in every block and on the other layout page.")
    if st.button("Clear selection", key=f"{page}_clear"):
        set_selection(store, [])
        st.rerun()
    table = labels.iloc[idx].copy()
    table.insert(0, "image", idx)
    paths = store.paths  # one copy, not one per row
    table["path"] = [paths[i] for i in idx]
    st.download_button("Selection (CSV)", table.to_csv(index=False), file_name="selection.csv",
                            mime="text/csv", key=f"{page}_sel_csv")
    shown = idx[:max_images]
    caption = [" · ".join(str(labels.iloc[i][c]) for c in labels.columns) for i in shown]
    if len(shown) == 1:
        caption = [f"image {shown[0]} · {paths[shown[0]].rsplit('/', 1)[-1]}  \n{caption[0]}"]
    show_images([paths[i] for i in shown], caption=caption, width=single if len(shown) == 1 else many)
    if len(idx) > max_images:
        st.caption(f"First {max_images} of {len(idx)} shown; the CSV lists all.")


def hover_data(store: Store, idx: np.ndarray) -> tuple[np.ndarray, str]:
    """customdata rows [image index, label columns..., file name] and the matching hovertemplate."""
    labels = store.labels
    names = [p.rsplit("/", 1)[-1] for p in store.paths]
    cd = np.empty((len(idx), 2 + len(labels.columns)), dtype=object)
    cd[:, 0] = idx
    for j, c in enumerate(labels.columns):
        cd[:, 1 + j] = labels[c].astype(str).to_numpy()[idx]
    cd[:, -1] = np.asarray(names, dtype=object)[idx]
    lines = [f"{c}: %{{customdata[{1 + j}]}}" for j, c in enumerate(labels.columns)]
    template = "<br>".join([f"image %{{customdata[0]}} · %{{customdata[{len(labels.columns) + 1}]}}"] + lines) + "<extra></extra>"
    return cd, template


def coords_table(store: Store, maps: Maps) -> pd.DataFrame:
    """Every block's map coordinates with the labels (CSV export)."""
    df = store.labels.copy()
    df.insert(0, "image", np.arange(store.n))
    df["path"] = store.paths
    for name, c in maps.items():
        slug = name.replace(" ", "")
        df[f"{slug}_x"], df[f"{slug}_y"] = c[:, 0], c[:, 1]
    return df
