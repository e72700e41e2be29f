"""Activation maximisation as composable parts, split the way Lucent splits `optvis`:

- `objectives`: what to maximise (`channel`, `channels`, `neuron`, `class_logit`; they add,
  subtract and scale like numbers) and the weighted penalties (`l2`, `total_variation`, `blur`);
- `param`: how the image is made from free parameters (`pixel_image`, `fft_image`);
- `transform`: random transforms before every step (`standard_transforms()` is Lucent's list);
- `render`: the one optimisation loop (`render`) and the channel explorer's ready-made
  composition (`visualize_channels`);
- `channel_images`: several channels of a block in one batch, seeded per channel, cached on disk.

The names below are re-exported so that `from analysis.inspect.featureviz import render` reads
like Lucent's `from lucent.optvis import render`.
"""
from analysis.inspect.featureviz.objectives import (
    Objective,
    Regularizer,
    blur,
    channel,
    channels,
    class_logit,
    l2,
    neuron,
    total_variation,
)
from analysis.inspect.featureviz.param import COLOR_CORRELATION, ImageParam, fft_image, pixel_image, rfft2d_freqs
from analysis.inspect.featureviz.render import (
    PRESETS,
    RenderResult,
    StepCallback,
    activation_vs_dataset,
    render,
    settings_key,
    visualize_channels,
)
from analysis.inspect.featureviz.transform import (
    Transform,
    jitter,
    pad,
    random_rotate,
    random_scale,
    standard_transforms,
)

__all__ = [
    "COLOR_CORRELATION", "PRESETS", "ImageParam", "Objective", "Regularizer", "RenderResult", "StepCallback",
    "Transform", "activation_vs_dataset", "blur", "channel", "channels", "class_logit", "fft_image", "jitter",
    "l2", "neuron", "pad", "pixel_image", "random_rotate", "random_scale", "render", "rfft2d_freqs",
    "settings_key", "standard_transforms", "total_variation", "visualize_channels",
]
