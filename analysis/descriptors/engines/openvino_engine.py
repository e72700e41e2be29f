"""The OpenVINO engine (CPU): an exported graph whose outputs are exactly the block descriptors.

Export: a wrapper module runs the network through the one hook helper, pools every block inside
the graph (token outputs averaged over tokens) and stops after the last block, so only
n x channels leaves the engine. `openvino.convert_model` traces it once; the IR (model.xml/.bin,
no pickle) is cached per architecture + weights + blocks + input size + library versions under
<cache>/engines/, written into a temporary folder and renamed into place. A failed export is
remembered there too (failed.json, with the reason), so it is not retried on every run.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from analysis.atomic import write_json_atomic
from analysis.descriptors.engines.base import EngineUnavailable
from analysis.descriptors.engines.torch_engine import gap
from analysis.models.hooks import capture, run_until
from analysis.models.model import Model
from analysis.paths import cache_root

EXPORTER_VERSION = 1
HINTS = {"fp32": "f32", "bf16": "bf16"}  # INFERENCE_PRECISION_HINT, always set explicitly
_compiled: dict[tuple[str, str], object] = {}  # (export folder, precision) -> compiled model, per process
_lock = threading.Lock()


def _openvino():
    try:
        import openvino
    except ImportError as exc:
        raise EngineUnavailable(f"the openvino package is not installed ({exc}); pip install -r requirements.txt") from None
    _safe_with_tcmalloc(openvino)
    return openvino


def _tcmalloc_loaded() -> bool:
    try:
        return "libtcmalloc" in Path("/proc/self/maps").read_text()
    except OSError:
        return "tcmalloc" in os.environ.get("LD_PRELOAD", "")


def _safe_with_tcmalloc(openvino) -> None:
    """Make OpenVINO's CPU plugin safe in a process that preloads tcmalloc (run.sh does).

    Measured: with libtcmalloc in LD_PRELOAD, the first compile_model aborted ("double free" /
    "free(): invalid pointer") inside the hwloc library bundled with OpenVINO, which TBB opens
    with its own symbol scope and which then frees tcmalloc memory with glibc's free. Loading
    that hwloc into the global scope first binds it to the preloaded allocator; with that, compile
    and inference run (tested in a subprocess under LD_PRELOAD). If the library cannot be found,
    OpenVINO is refused (torch is used) rather than crashing the process.
    """
    if not _tcmalloc_loaded():
        return
    libs = sorted((Path(openvino.__file__).parent / "libs").glob("libhwloc.so*"))
    if not libs:
        raise EngineUnavailable("tcmalloc is preloaded (LD_PRELOAD) and OpenVINO's hwloc library was not found to "
                                "make them safe together; run without LD_PRELOAD to use OpenVINO")
    try:
        ctypes.CDLL(str(libs[0]), mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    except OSError as exc:
        raise EngineUnavailable(f"tcmalloc is preloaded and {libs[0].name} could not be loaded ({exc})") from None


def bf16_supported() -> bool:
    """Whether this CPU runs bf16 in OpenVINO (AVX512-BF16 / AMX); elsewhere the hint is ignored."""
    ov = _openvino()
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class BlockGaps(nn.Module):
    """forward(x) -> tuple of every block's GAP descriptor, in block order; stops after the last block."""

    def __init__(self, model: Model):
        super().__init__()
        self.net = model.net
        self.mods = {b.index: model.module(b) for b in model.blocks}
        self.order = [b.index for b in model.blocks]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with capture(self.mods, gap, stop_after=self.order[-1]) as out:
            run_until(self.net, x)
        return tuple(out[i] for i in self.order)


def export_parts(model: Model) -> dict:
    import openvino

    return {"arch": model.arch, "weights": model.weights_id, "blocks": [[b.module, b.channels] for b in model.blocks],
            "input_size": model.input_size, "openvino": openvino.__version__, "torch": torch.__version__,
            "exporter": EXPORTER_VERSION}


def export_dir(model: Model) -> Path:
    from analysis.descriptors.store import cache_key

    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in model.arch)[:40]
    return cache_root() / "engines" / f"{safe}__{cache_key(export_parts(model))}"


def export(model: Model) -> Path:
    """The cached IR of `model` (exported now if missing). Raises EngineUnavailable with the reason."""
    ov = _openvino()
    folder = export_dir(model)
    xml = folder / "model.xml"
    if xml.is_file() and (folder / "model.bin").is_file():
        return xml
    failed = folder.with_name(folder.name + ".failed.json")
    if failed.is_file():
        import json

        raise EngineUnavailable(json.loads(failed.read_text()).get("reason", "export failed earlier"))
    size = model.input_size
    try:
        # The model object is shared by every dashboard session: hold its lock while hooks trace it.
        with model.lock, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.trace's deprecation and tracer notes
            ir = ov.convert_model(BlockGaps(model).eval(), example_input=torch.zeros(1, 3, size, size))
        if len(ir.outputs) != len(model.blocks):
            raise ValueError(f"the graph has {len(ir.outputs)} outputs for {len(model.blocks)} blocks")
        ir.reshape([-1, 3, size, size])  # any batch size, the model's own input size
    except Exception as exc:  # tracing/conversion errors of exotic architectures: remembered, torch is used
        reason = f"OpenVINO could not export {model.arch} ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]})"
        write_json_atomic(failed, {"reason": reason})
        raise EngineUnavailable(reason) from exc
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        ov.save_model(ir, str(tmp / "model.xml"), compress_to_fp16=False)  # keep the fp32 weights exact
        write_json_atomic(tmp / "export.json", export_parts(model))
        try:
            tmp.rename(folder)
        except OSError:  # another process finished the same export first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:  # full disk, read-only cache: not remembered, tried again next time
        shutil.rmtree(tmp, ignore_errors=True)
        raise EngineUnavailable(f"could not save the exported model under {folder.parent} ({exc})") from exc
    return xml


class OpenVinoEngine:
    """Runs the exported graph on the CPU with INFERENCE_PRECISION_HINT set explicitly (f32 or bf16), a batch
    split over the CPU plugin's throughput streams (async requests)."""

    name = "openvino"
    device = "cpu"

    def __init__(self, model: Model, precision: str = "fp32"):
        if precision not in HINTS:
            raise EngineUnavailable(f"OpenVINO runs fp32 or bf16 here, not {precision}")
        if model.device.type != "cpu":
            raise EngineUnavailable(f"OpenVINO runs on the CPU here; the model is on {model.device}")
        ov = _openvino()
        if precision == "bf16" and not bf16_supported():
            raise EngineUnavailable("this CPU has no bf16 support in OpenVINO (needs AVX512-BF16 or AMX)")
        self.precision = precision
        self.order = [b.index for b in model.blocks]
        xml = export(model)
        key = (str(xml.parent), precision)
        with _lock:
            compiled = _compiled.get(key)
            if compiled is None:
                core = ov.Core()
                # THROUGHPUT: one single-threaded stream per core, each running a slice of the batch.
                # Measured interleaved on this 2-core CPU (benchmarks/extract.py): faster than one
                # LATENCY stream whose threads synchronise per layer, and far less hurt by other load.
                compiled = core.compile_model(core.read_model(str(xml)), "CPU", {
                    "INFERENCE_PRECISION_HINT": HINTS[precision], "PERFORMANCE_HINT": "THROUGHPUT"})
                _compiled[key] = compiled
        self.compiled = compiled
        self.slices = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self.queue = ov.AsyncInferQueue(compiled, self.slices)
        self.queue.set_callback(self._collect)
        self._out: list[list[np.ndarray] | None] = []
        self.request_lock = threading.Lock()  # one batch at a time through this engine's queue

    def _collect(self, request, slot: int) -> None:
        self._out[slot] = [np.array(request.get_output_tensor(k).data, dtype=np.float32)
                           for k in range(len(self.order))]

    def __call__(self, x: torch.Tensor) -> dict[int, np.ndarray]:
        a = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        # Rows are independent (eval mode), so slices of the batch give the same rows as one call.
        parts = [p for p in np.array_split(a, min(self.slices, len(a))) if len(p)]
        with self.request_lock:
            self._out = [None] * len(parts)
            for slot, part in enumerate(parts):
                self.queue.start_async({0: np.ascontiguousarray(part)}, slot)
            self.queue.wait_all()
            outs = self._out
        return {i: np.concatenate([o[k] for o in outs]) for k, i in enumerate(self.order)}


def forget_compiled() -> None:
    """Drop the in-process compiled models (tests: force a reload from the cached IR)."""
    with _lock:
        _compiled.clear()
