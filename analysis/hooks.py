"""Ending a forward pass early at one module: the one mechanism for 'run the net up to block k'."""
from __future__ import annotations

import threading

import torch
from torch import nn


class StopForward(Exception):
    """Raised by a forward hook once it has what it needs: the later layers are skipped."""


def forward_until(net: nn.Module, module: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """Output of `module` when `net` runs on `x`, without running the rest of `net`.

    Keeps the autograd graph when grad is enabled. One model object serves every browser session,
    so the hook ignores forward passes from other threads. None if `module` never ran.
    """
    owner = threading.get_ident()
    out: list[torch.Tensor] = []

    def hook(_m, _a, o):
        if threading.get_ident() != owner:
            return
        out.append(o)
        raise StopForward

    h = module.register_forward_hook(hook)
    try:
        net(x)
    except StopForward:
        pass
    finally:
        h.remove()
    return out[0] if out else None
