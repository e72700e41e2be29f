"""The one block naming used everywhere (CLI, cache, pages, analyses)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """One stage of a network whose output we pool into a descriptor.

    index: 1-based position ("block 1" is the shallowest).
    module: dotted path of the module inside the full network (timm feature_info "module").
    channels / stride: from timm feature_info (num_chs / reduction).
    receptive_field: side in input pixels of the region one output position sees (measured
        from the network's geometry, see receptive.py).
    rf_global: True when that region is the whole image (squeeze-excite, attention) or larger
        than the probe; receptive_field is then a lower bound.
    rf_offset: input coordinate of the centre of output position 0's field; position i is
        centred at rf_offset + i * stride (same for rows and columns).
    """

    index: int
    module: str
    channels: int
    stride: int
    receptive_field: int = 0
    rf_global: bool = False
    rf_offset: float = 0.0

    @property
    def name(self) -> str:
        return block_name(self.index)


def block_name(index: int) -> str:
    return f"block {index}"
