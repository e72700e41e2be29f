"""What the channel explorer and the unit card share: the dataset quantiles behind mask
thresholds, activation-maximisation images with a progress bar, small cached computations.

Both pages use the same disk-cache keys, so an image rendered on one page is instant on the other.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from analysis.inspect.featureviz import activation_vs_dataset
from analysis.inspect.featureviz.channel_images import AMSettings, UnitImage, cached_units, is_cached
from analysis.inspect.masks import (
    ActivationQuantiles,
    channel_mask,
    store_quantiles,
)
from analysis.pictures import png_bytes

# QUANTILE_SAMPLE: dataset images the mask-threshold quantiles are computed on; QUANTILE_POSITIONS:
# spatial positions sampled per image and channel; PREVIEW_STEPS: the AM preview. Defined where
# `precompute --warm` fills the same cache entries.
from analysis.warm import QUANTILE_POSITIONS, QUANTILE_SAMPLE
from analysis.warm import TOUR_AM_STEPS as PREVIEW_STEPS
from dashboard.state import page_seed

FULL_STEPS = 512


def preview_steps() -> int:
    """Steps of the AM preview (the explorer's control; tests set `am_preview_steps` small)."""
    return int(st.session_state.get("am_preview_steps", PREVIEW_STEPS))


def mask_reference(model, store, block: int) -> ActivationQuantiles:
    """Quantiles of every channel of `block` over a seeded sample of the dataset (on disk, see
    masks.store_quantiles), with a progress bar the first time."""
    bar = None

    def progress(done: int, total: int, note: str = "") -> None:
        nonlocal bar
        bar = bar or st.progress(0.0, text=f"Activation quantiles of block {block}…")
        bar.progress(done / max(total, 1), text=f"Activation quantiles of block {block}: {done} / {total} images")

    q = store_quantiles(model, store, block, QUANTILE_SAMPLE, QUANTILE_POSITIONS, random_state=page_seed(),
                        progress=progress)
    if bar is not None:
        bar.empty()
    return q


@st.cache_data(max_entries=256, show_spinner=False)
def cached_mask(store_key: str, image_key: str, block: int, channel: int, threshold: float, mode: str,
                _model, _image):
    return channel_mask(_model, _image, block, channel, threshold=threshold, quantile=None, mode=mode)


def am_units(model, block: int, channels: list[int], settings: AMSettings, what: str) -> list[UnitImage]:
    """AM images of `channels` (disk-cached per channel); renders the missing ones in one batch
    under a progress bar."""
    if is_cached(model, block, channels, settings):
        return cached_units(model, block, channels, settings)
    text = f"{what}: {len(channels)} channel(s) of block {block}, {settings.steps} steps"
    bar = st.progress(0.0, text=text + "…")
    every = max(1, settings.steps // 100)

    def progress(i: int, n: int, values: np.ndarray) -> None:
        if i % every == 0 or i == n:
            bar.progress(i / n, text=f"{text} — step {i} / {n}")

    out = cached_units(model, block, channels, settings, progress=progress)
    bar.empty()
    return out


def am_table(store, block: int, units: list[UnitImage]) -> pd.DataFrame:
    """Activation reached vs the dataset's largest descriptor value of each channel."""
    d = store.descriptors(block)
    rows = []
    for u in units:
        col = np.asarray(d[:, u.channel], dtype=np.float64)
        t = activation_vs_dataset(u.activation, float(col.max()), dataset_values=col)
        rows.append({"channel": u.channel, **t.iloc[0].to_dict()})
    return pd.DataFrame(rows)


def am_caption(row: pd.Series) -> str:
    ratio = row["ratio"]
    rel = f"{ratio:.1f}× the dataset max" if np.isfinite(ratio) else "dataset max ≤ 0"
    return f"ch {int(row['channel'])} · activation {row['activation']:.2f} ({rel})"


def png_button(label: str, image: np.ndarray, file_name: str, key: str) -> None:
    st.download_button(label, png_bytes(image), file_name=file_name, mime="image/png", key=key)
