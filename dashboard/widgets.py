"""Small widgets and page helpers shared by the dashboard pages: block picker, number lists,
progress bars, exports, thumbnails.

No maths here: computations live in `analysis/`; this only wires controls, caches and drawing.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import streamlit as st

from analysis.descriptors.store import Store
from analysis.errors import LayerScopeError
from analysis.hashing import bytes_digest
from analysis.progress import Progress, fraction
from dashboard.state import page_seed

CAMERA = ("Figures: use the camera icon in the plot's toolbar (“Download plot as png”) to save a PNG; "
          "server-side image export (kaleido) is not installed.")
BEST_STYLE = "background-color: #c8f7c5; font-weight: 600"


def block_select(store: Store, label: str, key: str, default: int | None = None, help: str | None = None) -> int:
    """A block picker showing name · channels; returns the 1-based block index."""
    blocks = store.blocks
    names = [f"{b.name} · {b.channels} ch" for b in blocks]
    if key in st.session_state and st.session_state[key] in names:
        # Set by a link or an earlier run: passing index too would make Streamlit warn that the
        # widget has both a default and a session-state value.
        choice = st.selectbox(label, names, key=key, help=help)
    else:
        st.session_state.pop(key, None)  # e.g. a block of another model
        idx = min(max((default or (len(blocks) + 1) // 2) - 1, 0), len(blocks) - 1)
        choice = st.selectbox(label, names, index=idx, key=key, help=help)
    return names.index(choice) + 1


def parse_ints(text: str, what: str = "k values", low: int = 1, high: int = 10_000) -> list[int]:
    """'1, 2, 4 8' -> [1, 2, 4, 8] (sorted, unique); LayerScopeError saying what to type otherwise."""
    parts = [p for p in re.split(r"[,\s;]+", text.strip()) if p]
    try:
        values = sorted({int(p) for p in parts})
    except ValueError:
        raise LayerScopeError(f"{what}: type whole numbers separated by commas, e.g. 1, 2, 4, 8, 16 "
                              f"(got {text!r}).") from None
    if not values:
        raise LayerScopeError(f"{what}: type at least one whole number, e.g. 1, 4, 16.")
    if values[0] < low or values[-1] > high:
        raise LayerScopeError(f"{what} must be between {low} and {high}; got {', '.join(map(str, values))}.")
    return values


@contextmanager
def progress_bar(text: str) -> Iterator[Progress]:
    """A st.progress bar for an analysis `progress(done, total, note)` callback, removed after.

    Every update is a point where Streamlit can stop the script: changing a control while this
    runs cancels the computation (nothing half-done is cached).
    """
    bar = st.progress(0.0, text=text)

    def update(done: int, total: int, note: str = "") -> None:
        bar.progress(fraction(done, total), text=f"{text} · {note}" if note else text)

    try:
        yield update
    finally:
        bar.empty()


def download_csv(df: pd.DataFrame, name: str, key: str, label: str = "⬇️ CSV", index: bool = True) -> None:
    st.download_button(label, df.to_csv(index=index).encode(), file_name=f"{name}.csv", mime="text/csv", key=key)


def highlight(display: pd.DataFrame, mask: pd.DataFrame):
    """Styler that marks the True cells of mask (e.g. the best block per score)."""
    return display.style.apply(lambda _: np.where(mask.to_numpy(), BEST_STYLE, ""), axis=None)


def image_label(store: Store, i: int) -> str:
    """'#12 · colour=red · pattern=stripes' for pickers and captions."""
    row = store.labels.iloc[int(i)]
    return f"#{int(i)} · " + " · ".join(f"{c}={row[c]}" for c in store.labels.columns)


def thumb_row(store: Store, rows: Sequence[int], captions: Sequence[str], width: int = 96) -> None:
    """One row of thumbnails with captions (decoded by the image loader: a bad file is a grey tile)."""
    if len(rows):
        from dashboard.safe_io import show_images

        paths = store.paths  # one copy, not one per row
        show_images([paths[int(i)] for i in rows], caption=list(captions), width=width)
    else:
        st.caption("(no images)")


def upload_digest(data: bytes) -> str:
    return bytes_digest(data, 16)


def fold_note(message: str) -> None:
    """The fold plan's note (small classes), said in the UI whenever folds were changed."""
    if message:
        st.warning(f"Cross-validation: {message}", icon="⚠️")


@st.cache_data(show_spinner=False, max_entries=32)
def _prototype_per_block(key: str, label: str, _store: Store) -> list[float]:
    from analysis.probes.classifiers import prototype_cv
    from analysis.probes.folds import plan_folds

    y = _store.labels[label].to_numpy()
    plan = plan_folds(y, n_splits=5, random_state=page_seed())
    return [prototype_cv(_store.descriptors(b.index), y, "euclidean", plan=plan).mean for b in _store.blocks]


def best_prototype_block(store: Store, label: str) -> int:
    """1-based block with the best 5-fold nearest-prototype accuracy (a cheap default pick)."""
    try:
        return int(np.argmax(_prototype_per_block(store.key, label, store))) + 1
    except LayerScopeError:  # e.g. a single-class column: any block will do as a default
        return (len(store.blocks) + 1) // 2
