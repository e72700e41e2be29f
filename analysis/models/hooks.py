"""The one forward-hook helper: record block outputs, or end a forward pass early at one module.

Every view that needs a block's output (extraction, masks, feature visualisation, CAM, the
model's own block maps) goes through :func:`capture`, so the two rules that matter live here
once: hooks are always removed, and one model object serves every browser session, so a hook
only records forward passes run by the thread that installed it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
from torch import nn

K = TypeVar("K", bound=Hashable)


class StopForward(Exception):
    """Raised by a forward hook once it has what it needs: the later layers are skipped."""


@contextmanager
def capture(modules: Mapping[K, nn.Module], transform: Callable[[Any], Any] | None = None,
            stop_after: K | None = None, inputs: bool = False) -> Iterator[dict[K, Any]]:
    """Record `transform(output)` of each module (by key) while the context is open.

    With `inputs`, the module's first positional input is recorded instead of its output. The
    dict keeps the order in which modules first finished (innermost before outermost).

    Only forwards run by the calling thread are recorded (other sessions share the model).
    With `stop_after`, the forward pass ends (``StopForward``) right after that module ran;
    run the net through :func:`run_until` (or catch ``StopForward``) in that case.
    """
    owner = threading.get_ident()
    out: dict[K, Any] = {}
    handles = []

    def make_hook(key: K):
        def hook(_m, _a, o):
            if threading.get_ident() != owner:
                return
            v = _a[0] if inputs else o
            out[key] = transform(v) if transform is not None else v
            if stop_after is not None and key == stop_after:
                raise StopForward
        return hook

    try:
        for key, module in modules.items():
            handles.append(module.register_forward_hook(make_hook(key)))
        yield out
    finally:
        for h in handles:
            h.remove()


def run_until(net: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """net(x), or None when a capture with `stop_after` ended the pass early."""
    try:
        return net(x)
    except StopForward:
        return None


def forward_until(net: nn.Module, module: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """Output of `module` when `net` runs on `x`, without running the rest of `net`.

    Keeps the autograd graph when grad is enabled. None if `module` never ran.
    """
    with capture({0: module}, stop_after=0) as out:
        run_until(net, x)
    return out.get(0)
