"""Receptive field of one output position of a block, measured from input gradients.

Walking module lists breaks on branches (a ResNet's 1x1 downsample shortcut would count its
stride twice), so we measure instead: the input pixels with a non-zero gradient of one centre
output position are its receptive field. To get the *geometric* field, independent of what the
weights happen to be (zero-initialised residual branches, dead ReLUs, max-pool picking one
pixel), the gradient is taken through a copy of the network with positive weights, neutral
batch-norm statistics, average- instead of max-pooling, and a positive input.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from analysis.models.hooks import forward_until


@dataclass(frozen=True)
class ReceptiveField:
    size: int      # side of the square field in input pixels (clipped to probe size)
    offset: float  # input coordinate of the field centre for output position 0: centre = offset + i*stride
    clipped: bool  # True when the field reached the probe's border (true size is larger)


def geometry_copy(net: nn.Module) -> nn.Module:
    """A CPU copy of `net` whose gradients reach every pixel its geometry connects."""
    # Averaging weights + tiny positive inputs keep every activation (ReLU6, hard-swish, ...) in
    # its non-saturated range, so no gradient path is cut; all stays positive, so nothing cancels.
    g = copy.deepcopy(net).cpu().float().eval()
    with torch.no_grad():
        for pname, p in g.named_parameters():
            if p.ndim >= 2:
                p.fill_(1.0 / max(1, p[0].numel()))
            else:
                p.fill_(0.0 if pname.endswith("bias") else 1.0)
        for m in g.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
    for parent in g.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.MaxPool2d):
                setattr(parent, child_name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                                         ceil_mode=child.ceil_mode))
    return g


def measure_receptive_fields(
    net: nn.Module, blocks: list[tuple[str, int]], max_probe: int = 1024
) -> list[ReceptiveField]:
    """Receptive fields of the centre output position of each (module name, stride), in order.

    Each probe image starts at twice the previous block's field and doubles until the field fits;
    a field still touching the border at `max_probe` is global (squeeze-excite, attention) or
    larger than max_probe, and is returned with clipped=True.
    """
    g = geometry_copy(net)
    out: list[ReceptiveField] = []
    probe = 64
    for module_name, stride in blocks:
        probe = max(probe, 4 * stride)
        while True:
            try:
                rf = _measure(g, g.get_submodule(module_name), stride, probe)
            except (AssertionError, RuntimeError, ValueError):
                # Fixed-input-size networks (ViT patch embedding asserts 224 px) refuse a probe of
                # another size: their blocks see the whole image, which is what we report.
                rf = ReceptiveField(size=probe, offset=probe / 2, clipped=True)
                probe = max_probe
            if not rf.clipped or probe >= max_probe:
                break
            probe = min(probe * 2, max_probe)
        out.append(rf)
    return out


def _measure(net: nn.Module, module: nn.Module, stride: int, probe_size: int) -> ReceptiveField:
    # Kernels are square, so the field's height equals its width: a tall, narrow probe measures the
    # row extent exactly at a fraction of the cost of a square one.
    width = max(32, 2 * stride)
    x = (torch.rand(1, 3, probe_size, width) + 1.0).mul_(1e-4).requires_grad_(True)
    with torch.enable_grad():
        y = forward_until(net, module, x)
        if y.ndim != 4:  # token outputs (ViT): every token sees the whole image
            return ReceptiveField(size=probe_size, offset=probe_size / 2, clipped=True)
        ci = y.shape[-2] // 2
        y[:, :, ci, :].sum().backward()
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3)) > 0).flatten()
    if len(rows) == 0:
        return ReceptiveField(size=1, offset=0.0, clipped=False)
    r0, r1 = int(rows[0]), int(rows[-1])
    clipped = r0 == 0 or r1 == probe_size - 1
    return ReceptiveField(size=r1 - r0 + 1, offset=(r0 + r1) / 2.0 - ci * stride, clipped=bool(clipped))
