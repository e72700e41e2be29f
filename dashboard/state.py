"""Loading the selected model / dataset / descriptors once per process, and the sidebar.

Models, datasets and memory-mapped stores go through st.cache_resource (no copies per rerun).
"""
from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from analysis.data.datasets import Dataset, open_dataset, parse_spec, spec_fingerprint
from analysis.data.roots import data_roots, require_within
from analysis.descriptors.extract import cache_status, extract
from analysis.descriptors.store import Store, entry_dir
from analysis.errors import LayerScopeError
from analysis.limits import Limits, check_dataset_size, check_model_size, check_spec
from analysis.models.model import BUILTIN, RANDOM, SUGGESTED, UNTRAINED, Model, load_model

# The image loader's decode cap for this server process (the CLI keeps PIL's own limit).
os.environ.setdefault("LAYERSCOPE_MAX_PIXELS", str(Limits().max_pixels))

DATASETS = {
    "garments (built-in, 1000 images)": "garments",
    "garments (small demo, 200 images)": "garments:n=200",
    "Fashion-MNIST (if installed)": "fashion-mnist",
    "image folder or CSV…": "",
}


WEIGHT_SOURCES = {"pretrained (download via timm)": "timm", "local weights file": "file",
                  "random weights (no download, untrained)": RANDOM}


@dataclass(frozen=True)
class Selection:
    model: str
    weights: str | None
    data: str
    label: str | None


SEED = 0  # the one seed of every page's random choices (folds, query samples, UMAP, bootstraps)


def page_seed() -> int:
    """The seed every page passes as random_state: same seed, same numbers as the CLI's default."""
    return SEED


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
def _load_model(name: str, weights: str | None) -> Model:
    return load_model(name, weights=weights)


@st.cache_resource(max_entries=64, show_spinner=False)
def _params_checked(arch: str, max_params: int) -> int:
    return check_model_size(arch, Limits(max_params=max_params))


def get_model(name: str, weights: str | None) -> Model:
    """The model, after the server's checks: parameter cap (counted on the meta device, before any
    allocation) and weights files only from the data root."""
    import timm

    limits = Limits.from_env()
    if name not in BUILTIN and timm.is_model(name):
        _params_checked(name, limits.max_params)
    if weights and weights != RANDOM:
        weights = str(require_within(weights, data_roots(), "weights file"))
    return _load_model(name, weights)


@st.cache_resource(show_spinner="Opening dataset (the built-in set is generated once)…", max_entries=4)
def _open_dataset(spec: str, stamp: tuple) -> Dataset:
    # `stamp` (mtime/size of the folder, its class folders, the CSV) is part of the key: a dataset
    # changed under the running app is reopened instead of failing in every session.
    return open_dataset(spec, roots=data_roots())


def get_dataset(spec: str) -> Dataset:
    """The dataset, only from the data root and within the server's caps (checked before generating)."""
    limits = Limits.from_env()
    check_spec(*parse_spec(spec), limits)
    ds = _open_dataset(spec, spec_fingerprint(spec))
    check_dataset_size(len(ds), limits)
    return ds


@st.cache_resource(max_entries=8)
def _open_store(path: str) -> tuple[Store | None, str | None]:
    # Keyed by the entry folder, itself keyed by model+weights+preprocessing+dataset content.
    # Verified (checksums) once here, not on every rerun; a corrupt entry is removed with a message.
    from analysis.descriptors.store import open_entry

    return open_entry(Path(path))


def _entry(model: Model, dataset: Dataset) -> tuple[Store | None, str | None]:
    try:
        path = entry_dir(model, dataset)
    except LayerScopeError as exc:  # an image vanished since the dataset was opened: open it again, once
        _open_dataset.clear()
        if not st.session_state.get("_reopened"):
            st.session_state["_reopened"] = True
            st.rerun()
        st.error(str(exc))
        st.stop()
    st.session_state.pop("_reopened", None)
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
    store = extract(model, dataset, progress=lambda d, n, _note="": bar.progress(d / n, text=f"Descriptors: {d} / {n} images"))
    bar.empty()
    _open_store.clear()
    return store


def _model_link(raw: str | None, names: list[str], problems: list[str]) -> None:
    """?model=: a listed name sets the selectbox, another timm name the text field."""
    current = (st.session_state.get("model_custom") or "").strip() or st.session_state.get("model", names[0])
    if raw is None or raw == current:
        return
    import timm

    name = raw.strip()
    if name in names:
        st.session_state["model"], st.session_state["model_custom"] = name, ""
    elif len(name) <= 100 and timm.is_model(name):
        st.session_state["model_custom"] = name
    else:
        problems.append(f"model '{raw}' is neither a built-in nor a timm model name")


def _weights_link(raw: str | None, model: str, problems: list[str]) -> None:
    """?weights=random | pretrained | a weights file under the data root (timm models only)."""
    if raw is None:
        return
    if model in BUILTIN:
        problems.append(f"weights '{raw}' not used: built-in models have their own offline weights")
        return
    sources = {v: k for k, v in WEIGHT_SOURCES.items()}
    if raw in (RANDOM, "timm", "pretrained"):
        st.session_state["weights_source"] = sources[RANDOM if raw == RANDOM else "timm"]
        return
    try:
        path = require_within(raw, data_roots(), "weights file")
        if not path.is_file():
            raise LayerScopeError("no such file")
    except (LayerScopeError, OSError) as exc:
        problems.append(f"weights '{raw}' not used: {exc}")
        return
    st.session_state["weights_source"], st.session_state["weights"] = sources["file"], raw


def _data_link(raw: str | None, problems: list[str]) -> None:
    """?data=: one of DATASETS' specs, or any spec / folder / CSV the server may open."""
    choice = st.session_state.get("dataset", next(iter(DATASETS)))
    current = DATASETS.get(choice) or (st.session_state.get("data_path") or "").strip()
    if raw is None or raw == current:
        return
    try:
        get_dataset(raw)  # the data root and the caps, as for a typed path
    except (ValueError, OSError) as exc:  # LayerScopeError is a ValueError
        problems.append(f"data '{raw}' not opened: {exc}")
        return
    named = {v: k for k, v in DATASETS.items() if v}
    st.session_state["dataset"] = named.get(raw, next(k for k, v in DATASETS.items() if not v))
    if raw not in named:
        st.session_state["data_path"] = raw


def sidebar() -> Selection:
    """Model, dataset and label column controls; the choice lives in st.session_state and in the
    address (?model=&weights=&data=&label=), so a copied address reopens the same selection."""
    from dashboard.page_links import SIDEBAR, begin_run, link_values, write_url
    from dashboard.query import warn_ignored

    sb = st.sidebar
    names = list(BUILTIN) + SUGGESTED
    begin_run()
    link, problems = link_values(SIDEBAR), []
    _model_link(link.get("model"), names, problems)
    _data_link(link.get("data"), problems)
    model = sb.selectbox("Model", names, key="model", help="Built-in models work offline; timm models need "
                         "network or a local weights file.")
    custom = sb.text_input("…or any timm model name", key="model_custom", placeholder="e.g. resnet18")
    model = custom.strip() or model
    weights = None
    _weights_link(link.get("weights"), model, problems)
    if model not in BUILTIN:
        if "weights_source" not in st.session_state and (st.session_state.get("weights") or "").strip():
            # A weights path already given (e.g. by a link or a test) means "local file".
            st.session_state["weights_source"] = "local weights file"
        source = sb.radio("Weights", list(WEIGHT_SOURCES), key="weights_source",
                          help="Offline, 'random weights' still lets you browse blocks, receptive fields and an "
                               "untrained control: untrained nets also separate colour early; texture needs training.")
        if WEIGHT_SOURCES[source] == "file":
            w = sb.text_input("Weights file (.safetensors / .pth)", key="weights", placeholder="path on this computer")
            weights = w.strip() or None
        elif WEIGHT_SOURCES[source] == RANDOM:
            weights = RANDOM
            sb.warning("Untrained: random weights (seed 0). Every page shows this model as "
                       f"`{model} {UNTRAINED}`; its descriptors are cached apart from the pretrained ones.")
    label = sb.selectbox("Dataset", list(DATASETS), key="dataset")
    data = DATASETS[label]
    if not data:
        data = sb.text_input("Folder (one sub-folder per class) or CSV path", key="data_path").strip()
    column = None
    if data:
        with guard():
            ds = get_dataset(data)
        cols = ds.label_columns
        if link.get("label") in cols:
            st.session_state["label"] = link["label"]
        elif "label" in link:
            problems.append(f"label column '{link['label']}' is not in this dataset ({', '.join(cols)})")
        if st.session_state.get("label") not in cols:
            st.session_state.pop("label", None)
        column = sb.selectbox("Label column", cols, key="label")
    warn_ignored(problems)  # plain text: the values came from whoever wrote the link
    # Written on every run (an invalid value from a link is replaced by what is shown).
    write_url({"model": model, "weights": "" if model in BUILTIN else weights, "data": data, "label": column})
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
