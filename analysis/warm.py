"""`layerscope precompute --warm`: fill the result caches a class will ask for first, so the first
visit of every page and Tour step reads from disk instead of computing.

For one cache entry: the block report of every label column (the Block report page's default
settings), the aligned UMAP maps (the layout pages' defaults), thumbnails, each block's GridCut
layout, the Clustering page's HDBSCAN runs (with their ARI / AMI intervals), the Tour's unit card image (activation maximisation of the channel it shows), and for
the last block (where the unit card and the channel explorer open) the mask-threshold reference
and the unit card's activation-maximisation preview.
Everything goes through the same cached functions the pages call, so the keys match.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from analysis.inspect.featureviz.channel_images import AMSettings, cached_units
from analysis.inspect.masks import store_quantiles
from analysis.layouts.cached import UMAP_DEFAULTS, aligned_maps, grid_layout, store_thumbnails
from analysis.probes.report_store import cached_block_report, cached_clustering
from analysis.tour import most_telling_channel, peak, report_settings

if TYPE_CHECKING:  # annotation only: importing the model module here would be heavy or circular
    from analysis.models.model import Model

TOUR_AM_STEPS = 64  # the unit card preview's steps: the Tour shows the same cached image
QUANTILE_SAMPLE, QUANTILE_POSITIONS = 64, 256  # the mask reference of the channel pages (channel_shared)


def warm(model: Model, store, log: Callable[[str], None] = print) -> dict[str, float]:
    """Compute (or find on disk) everything listed above; returns seconds per part."""
    seconds: dict[str, float] = {}

    def timed(name: str, fn):
        t0 = time.perf_counter()
        out = fn()
        seconds[name] = time.perf_counter() - t0
        log(f"warm: {name} ({seconds[name]:.1f} s)")
        return out

    reports = {label: timed(f"block report `{label}`",
                            lambda label=label: cached_block_report(store, label, **report_settings(store.n)))
               for label in store.labels.columns}
    maps = timed("UMAP maps of every block", lambda: aligned_maps(store, UMAP_DEFAULTS))
    timed("thumbnails", lambda: store_thumbnails(store))
    for b in store.blocks:
        timed(f"GridCut {b.name}", lambda b=b: grid_layout(store, b.name, UMAP_DEFAULTS, maps))
    for col in store.labels.columns:  # the Clustering page's defaults (UMAP-5, auto min cluster size)
        timed(f"Clustering page `{col}`", lambda col=col: [cached_clustering(store, b.index, col)
                                                           for b in store.blocks])
    label = "colour" if "colour" in reports else next(iter(reports))
    block = next(b for b in store.blocks if b.name == peak(reports[label]).block)
    channel, _ = most_telling_channel(store.descriptors(block.index), store.labels[label].to_numpy())
    timed(f"Tour unit image ({block.name} channel {channel})",
          lambda: cached_units(model, block.index, [channel], AMSettings(steps=TOUR_AM_STEPS)))
    # The unit card and the channel explorer open on the last block (channel 0 on the card): its
    # mask-threshold reference and the card's activation-maximisation preview.
    last = store.blocks[-1].index
    timed(f"mask thresholds of block {last}", lambda: store_quantiles(model, store, last, QUANTILE_SAMPLE,
                                                                      QUANTILE_POSITIONS, random_state=0))
    timed(f"unit card image (block {last} channel 0)",
          lambda: cached_units(model, last, [0], AMSettings(steps=TOUR_AM_STEPS)))
    return seconds
