"""The one device choice: CUDA, else Apple MPS, else the CPU."""
from __future__ import annotations

import os

import torch

from analysis.errors import LayerScopeError


def pick_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on.

    `prefer` (or the env var LAYERSCOPE_DEVICE) forces one ("cpu", "cuda", "mps");
    otherwise CUDA, then MPS, then CPU.
    """
    prefer = prefer or os.environ.get("LAYERSCOPE_DEVICE")
    if prefer:
        return _checked(str(prefer).strip().lower())
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def fast_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision worth trying on this device (checked for fidelity by the caller).

    bf16 autocast on CPU roughly triples throughput here (measured on resnet50) and keeps pooled
    descriptors at cosine >= 0.9999 to fp32; CUDA prefers bf16 where supported, else fp16.
    """
    if device.type == "cpu":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None  # MPS autocast support varies: stay in fp32


def _checked(name: str) -> torch.device:
    """A device the user named, refused with a message when unknown or absent on this machine."""
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise LayerScopeError(f"Unknown device '{name}': use cpu, cuda (or cuda:N) or mps.") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise LayerScopeError("Device 'cuda' was asked for but this machine has no usable CUDA GPU: use cpu.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise LayerScopeError(f"There is no GPU {dev.index} ({torch.cuda.device_count()} visible): use cuda:0.")
    elif dev.type == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise LayerScopeError("Device 'mps' was asked for but Apple MPS is not available here: use cpu.")
    elif dev.type != "cpu":
        raise LayerScopeError(f"Unsupported device '{name}': use cpu, cuda (or cuda:N) or mps.")
    return dev
