"""Resource caps for the dashboard (a server shared by every browser): configurable by env vars.

The CLI applies none of these except the decoded-pixel cap of the image loader; the dashboard
checks a request against them *before* allocating (dataset generation, model weights, uploads).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from analysis.errors import LayerScopeError


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(float(raw)) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Limits:
    """Caps; 0 or less disables one. Defaults fit a 2-core, few-GB server with a class on it."""

    max_images: int = 5000           # LAYERSCOPE_MAX_IMAGES: n= of generated sets and images per dataset
    max_image_size: int = 512        # LAYERSCOPE_MAX_SIZE: size= (px) of the generated garments
    max_params: int = 120_000_000    # LAYERSCOPE_MAX_PARAMS: model parameters (vit_base 86 M fits)
    max_upload_mb: int = 20          # LAYERSCOPE_MAX_UPLOAD_MB: one uploaded file
    max_pixels: int = 40_000_000     # LAYERSCOPE_MAX_PIXELS: decoded pixels of one image (w x h)

    @classmethod
    def from_env(cls) -> Limits:
        d = cls()
        return cls(
            max_images=_env_int("LAYERSCOPE_MAX_IMAGES", d.max_images),
            max_image_size=_env_int("LAYERSCOPE_MAX_SIZE", d.max_image_size),
            max_params=_env_int("LAYERSCOPE_MAX_PARAMS", d.max_params),
            max_upload_mb=_env_int("LAYERSCOPE_MAX_UPLOAD_MB", d.max_upload_mb),
            max_pixels=_env_int("LAYERSCOPE_MAX_PIXELS", d.max_pixels),
        )


def check_spec(name: str, options: dict[str, str], limits: Limits) -> None:
    """Refuse a generated dataset (garments / fashion-mnist) larger than the caps, before generating."""
    def num(key: str, default: int) -> int:
        try:
            return int(options.get(key, default))
        except ValueError:
            raise LayerScopeError(f"'{key}={options[key]}' is not a whole number.") from None

    if name == "garments":
        n, size = num("n", 1000), num("size", 224)
        if n < 1 or size < 16:
            raise LayerScopeError(f"garments needs n >= 1 and size >= 16, got n={n}, size={size}.")
        if 0 < limits.max_images < n:
            raise LayerScopeError(f"n={n} is above this server's cap of {limits.max_images} images "
                                  "(LAYERSCOPE_MAX_IMAGES).")
        if 0 < limits.max_image_size < size:
            raise LayerScopeError(f"size={size} is above this server's cap of {limits.max_image_size} px "
                                  "(LAYERSCOPE_MAX_SIZE).")
    if name == "fashion-mnist":
        n = num("n", 2000)
        if 0 < limits.max_images < n:
            raise LayerScopeError(f"n={n} is above this server's cap of {limits.max_images} images "
                                  "(LAYERSCOPE_MAX_IMAGES).")


def check_dataset_size(n_images: int, limits: Limits) -> None:
    if 0 < limits.max_images < n_images:
        raise LayerScopeError(f"This dataset has {n_images} images, above this server's cap of {limits.max_images} "
                              "(LAYERSCOPE_MAX_IMAGES). Use a smaller folder, or the CLI (no cap).")


def check_upload(size_bytes: int, name: str, limits: Limits) -> None:
    if 0 < limits.max_upload_mb and size_bytes > limits.max_upload_mb * 1_000_000:
        raise LayerScopeError(f"{name}: {size_bytes / 1e6:.1f} MB is above the upload cap of {limits.max_upload_mb} MB "
                              "(LAYERSCOPE_MAX_UPLOAD_MB). Downscale the image first.")


def parameter_count(arch: str) -> int:
    """Parameters of a timm architecture, counted on the meta device (no memory allocated)."""
    import timm
    import torch

    try:
        with torch.device("meta"):
            net = timm.create_model(arch, pretrained=False)
    except Exception as exc:  # noqa: BLE001 - unknown names are reported by load_model itself
        raise LayerScopeError(f"Cannot build '{arch}' to count its parameters ({type(exc).__name__}: {exc}).") from exc
    return sum(p.numel() for p in net.parameters())


def check_model_size(arch: str, limits: Limits) -> int:
    """The parameter count, or a LayerScopeError when above the cap (checked before any allocation)."""
    n = parameter_count(arch)
    if 0 < limits.max_params < n:
        raise LayerScopeError(f"{arch} has {n / 1e6:.0f} M parameters, above this server's cap of "
                              f"{limits.max_params / 1e6:.0f} M (LAYERSCOPE_MAX_PARAMS). Pick a smaller model, "
                              "or use the CLI (no cap).")
    return n
