"""Loading the selected model / dataset / descriptors once per process, and the sidebar.

Models, datasets and memory-mapped stores go through st.cache_resource (no copies per rerun).
"""
from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from analysis.data.datasets import Dataset, open_dataset
from analysis.descriptors.extract import cache_status, extract
from analysis.descriptors.store import Store, entry_dir
from analysis.errors import LayerScopeError
from analysis.models.model import BUILTIN, SUGGESTED, Model, load_model

DATASETS = {
    "garments (built-in, 1000 images)": "garments",
    "garments (small demo, 200 images)": "garments:n=200",
    "Fashion-MNIST (if installed)": "fashion-mnist",
    "image folder or CSV…": "",
}


@dataclass(frozen=True)
class Selection:
    model: str
    weights: str | None
    data: str
    label: str | None


@contextmanager
def guard() -> Iterator[None]:
    """Show problems as st.error with what to do, never as a traceback page."""
    try:
        yield
    except LayerScopeError as exc:
        st.error(str(exc))
        st.stop()
    except Exception as exc:  # noqa: BLE001 - last line of defence in front of a class
        if type(exc).__name__ in ("StopException", "RerunException"):
            raise
        st.error(f"Something went wrong: {type(exc).__name__}: {exc}. Try another setting; details below.")
        with st.expander("Details for a bug report"):
            st.code("".join(traceback.format_exception(exc)))
        st.stop()


@st.cache_resource(show_spinner="Loading model…", max_entries=3)
def get_model(name: str, weights: str | None) -> Model:
    return load_model(name, weights=weights)


@st.cache_resource(show_spinner="Opening dataset (the built-in set is generated once)…", max_entries=4)
def get_dataset(spec: str) -> Dataset:
    return open_dataset(spec)


@st.cache_resource(max_entries=8)
def _open_store(path: str) -> tuple[Store | None, str | None]:
    # Keyed by the entry folder, itself keyed by model+weights+preprocessing+dataset content.
    # Verified (checksums) once here, not on every rerun; a corrupt entry is removed with a message.
    from analysis.descriptors.store import open_entry

    return open_entry(Path(path))


def _entry(model: Model, dataset: Dataset) -> tuple[Store | None, str | None]:
    path = entry_dir(model, dataset)
    store, problem = _open_store(str(path))
    if (store is None) == path.is_dir():  # computed (e.g. by the CLI) or removed since it was cached
        _open_store.clear()
        store, problem = _open_store(str(path))
    return store, problem


def get_store(model: Model, dataset: Dataset) -> Store | None:
    return _entry(model, dataset)[0]


def store_problem(model: Model, dataset: Dataset) -> str | None:
    """Why the cached descriptors were dropped (corrupt), if they were."""
    return _entry(model, dataset)[1]


def compute_store(model: Model, dataset: Dataset) -> Store:
    bar = st.progress(0.0, text="Computing descriptors…")
    store = extract(model, dataset, progress=lambda d, n: bar.progress(d / n, text=f"Descriptors: {d} / {n} images"))
    bar.empty()
    _open_store.clear()
    return store


def sidebar() -> Selection:
    """Model, dataset and label column controls; the choice lives in st.session_state."""
    sb = st.sidebar
    names = list(BUILTIN) + SUGGESTED
    model = sb.selectbox("Model", names, key="model", help="Built-in models work offline; timm models need "
                         "network or a local weights file.")
    custom = sb.text_input("…or any timm model name", key="model_custom", placeholder="e.g. resnet18")
    model = custom.strip() or model
    weights = None
    if model not in BUILTIN:
        w = sb.text_input("Weights file (.safetensors / .pth)", key="weights", placeholder="empty: download via timm")
        weights = w.strip() or None
    label = sb.selectbox("Dataset", list(DATASETS), key="dataset")
    data = DATASETS[label]
    if not data:
        data = sb.text_input("Folder (one sub-folder per class) or CSV path", key="data_path").strip()
    column = None
    if data:
        with guard():
            ds = get_dataset(data)
        cols = ds.label_columns
        if st.session_state.get("label") not in cols:
            st.session_state.pop("label", None)
        column = sb.selectbox("Label column", cols, key="label")
    return Selection(model, weights, data, column)


def current() -> tuple[Selection, Model, Dataset]:
    """The selection with its model and dataset loaded (errors shown, page stopped)."""
    sel: Selection = st.session_state["selection"]
    if not sel.data:
        st.info("Choose a dataset in the sidebar: an image folder with one sub-folder per class, or a CSV file.")
        st.stop()
    with guard():
        model = get_model(sel.model, sel.weights)
        ds = get_dataset(sel.data)
    return sel, model, ds


def require_store() -> tuple[Selection, Model, Dataset, Store]:
    """For analysis pages: the cached descriptors, or a message pointing to the Data & model page."""
    sel, model, ds = current()
    store = get_store(model, ds)
    if store is None:
        st.info("No descriptors yet for this model and dataset. Compute them on the **Data & model** page "
                "(or run `python -m analysis precompute`).")
        st.page_link("views/data_model.py", label="Go to Data & model", icon="🗂️")
        st.stop()
    if sel.label is None or sel.label not in store.labels.columns:
        st.warning("Pick a label column in the sidebar.")
        st.stop()
    return sel, model, ds, store


def status_text(model: Model, ds: Dataset) -> tuple[str, str | None]:
    status, _, note = cache_status(model, ds)
    return status, note
