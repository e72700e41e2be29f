"""Pick the engine and precision per model and device: the fastest candidate whose first-batch
descriptors keep worst per-image cosine >= MIN_COSINE to fp32 torch for every block.

Speed depends on the model and the machine, not on the data, so candidates are timed once on a
slice of the first batch and the ranking is cached (<cache>/engines/speed-<key>.json). Fidelity
depends on the data, so it is checked on every extraction's first batch, fastest first.
"""
from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from analysis.atomic import write_json_atomic
from analysis.descriptors.engines.base import MIN_COSINE, Engine, EngineUnavailable, worst_cosine
from analysis.descriptors.engines.torch_engine import TorchEngine
from analysis.errors import LayerScopeError
from analysis.models.device import fast_dtype
from analysis.models.model import Model
from analysis.paths import cache_root

ENGINES = ("auto", "torch", "openvino")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SHORT = {torch.bfloat16: "bf16", torch.float16: "fp16"}
TIMING_IMAGES = 8  # images per timed run when ranking candidates


@dataclass
class Choice:
    """The engine extraction runs with, and why."""

    engine: Engine
    cosine: float | None  # worst per-image cosine to fp32 torch on the first batch (None: it is fp32 torch)
    notes: list[str] = field(default_factory=list)  # candidates skipped or refused, with the reason
    speeds: dict[str, float] = field(default_factory=dict)  # measured img/s per candidate ("openvino/fp32": 140)

    @property
    def label(self) -> str:
        return f"{self.engine.name}/{self.engine.precision}"


def _cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _openvino_engine(model: Model, precision: str) -> Engine:
    from analysis.descriptors.engines.openvino_engine import OpenVinoEngine

    return OpenVinoEngine(model, precision)


# (engine, precision) -> constructor; tests put a fake engine here
FACTORIES: dict[str, Callable[[Model, str], Engine]] = {"torch": TorchEngine, "openvino": _openvino_engine}


def candidates(model: Model, engine: str, precision: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(engine, precision) pairs worth trying, and notes on what was left out and why."""
    if engine not in ENGINES:
        raise LayerScopeError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}.")
    if precision not in PRECISIONS:
        raise LayerScopeError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    dev = model.device
    out: list[tuple[str, str]] = []
    notes: list[str] = []
    if engine in ("auto", "torch"):
        if precision == "auto":
            out.append(("torch", "fp32"))
            low = fast_dtype(dev)
            if low is not None and dev.type == "cpu" and not _cpu_has_native_bf16():
                notes.append("torch/bf16 not tried: this CPU has no native bf16 (emulated bf16 is slower than fp32)")
            elif low is not None:
                out.append(("torch", SHORT[low]))
        else:
            out.append(("torch", precision))
    if engine == "openvino" or (engine == "auto" and dev.type == "cpu"):
        wanted = ["fp32", "bf16"] if precision == "auto" else [precision]
        out += [("openvino", p) for p in wanted if p != "fp16"]
        if "fp16" in wanted:
            notes.append("openvino/fp16 not offered: OpenVINO on the CPU runs fp32 or bf16")
    elif engine == "auto":
        notes.append(f"openvino not tried: the model is on {dev} (OpenVINO runs on the CPU)")
    return out, notes


def _speed_file(model: Model, names: list[str]) -> os.PathLike:
    from analysis.descriptors.store import cache_key

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    key = cache_key({"arch": model.arch, "blocks": [b.module for b in model.blocks], "input": model.input_size,
                     "device": str(model.device), "cpu": cpu, "cores": os.cpu_count(),
                     "threads": torch.get_num_threads(), "candidates": names, "torch": torch.__version__})
    return cache_root() / "engines" / f"speed-{key}.json"


def rank(model: Model, engines: dict[str, Engine], x: torch.Tensor) -> dict[str, float]:
    """img/s of each engine on a slice of `x` (one warm-up, then best of two interleaved runs); cached."""
    path = _speed_file(model, sorted(engines))
    try:
        saved = json.loads(open(path).read())
        if set(saved) == set(engines):
            return saved
    except (OSError, ValueError):
        pass
    xs = x[:TIMING_IMAGES]
    for e in engines.values():
        e(xs)  # warm-up: first runs allocate and compile kernels
    best = {k: float("inf") for k in engines}
    for _ in range(2):
        for k, e in engines.items():  # interleaved, so machine drift hits every candidate alike
            t = time.perf_counter()
            e(xs)
            best[k] = min(best[k], time.perf_counter() - t)
    speeds = {k: round(len(xs) / v, 1) for k, v in best.items()}
    write_json_atomic(path, speeds)
    return speeds


def choose_engine(model: Model, x: torch.Tensor, engine: str = "auto", precision: str = "auto",
                  ) -> tuple[Choice, dict[int, np.ndarray]]:
    """The engine to extract with, and its descriptors of the first batch `x`.

    Only candidates at cosine >= MIN_COSINE to fp32 torch are kept, unless the user named both
    the engine and the precision (then it is used as asked; its cosine is still recorded). An engine that cannot
    run (not installed, export failed) is skipped with its reason in `notes`; fp32 torch is the
    fallback that always works.
    """
    pairs, notes = candidates(model, engine, precision)
    built: dict[str, Engine] = {}
    for name, prec in pairs:
        try:
            built[f"{name}/{prec}"] = FACTORIES[name](model, prec)
        except EngineUnavailable as exc:
            notes.append(f"{name}/{prec} unavailable: {exc}")
    if not built:
        built["torch/fp32"] = TorchEngine(model, "fp32")
        notes.append("falling back to torch/fp32")
    named = len(pairs) == 1 and engine != "auto" and precision != "auto"  # the user named this exact pair
    speeds = rank(model, built, x) if len(built) > 1 else {}
    order = sorted(built, key=lambda k: -speeds.get(k, 0.0))
    ref = TorchEngine(model, "fp32")(x) if order != ["torch/fp32"] else None
    for k in order:
        eng = built[k]
        if k == "torch/fp32":
            return Choice(eng, None if ref is None else 1.0, notes, speeds), ref if ref is not None else eng(x)
        try:
            out = eng(x)
        except (RuntimeError, TypeError) as exc:  # e.g. an autocast dtype this device lacks
            notes.append(f"{k} failed on the first batch: {str(exc).splitlines()[0][:200]}")
            continue
        cos = worst_cosine(ref, out)
        if cos >= MIN_COSINE or named:
            return Choice(eng, cos, notes, speeds), out
        notes.append(f"{k} refused: worst cosine {cos:.5f} < {MIN_COSINE} to fp32 torch")
    notes.append("falling back to torch/fp32")
    return Choice(TorchEngine(model, "fp32"), 1.0, notes, speeds), ref
