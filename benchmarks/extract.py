"""Extraction speed, interleaved: every path runs on the same batch in turn, so drift cancels.

    python benchmarks/extract.py [--model efficientnet_lite0] [--weights random] [--n 128] [--batch 32]

Paths, per batch (A B C D, A B C D, ...):
  A plain    : fp32 torch eval forward of the whole net, NCHW, GAP hooks on every block (the reference)
  B torch    : the torch engine as extract runs it (channels_last, stops after the last block,
               the precision the auto choice keeps among torch candidates)
  C ov-fp32  : OpenVINO, exported graph whose outputs are the block GAPs, INFERENCE_PRECISION_HINT f32
  D ov-bf16  : same with bf16 (only where the CPU supports it)
Prints per path the median img/s, the per-batch ratio to A (median, min, max) and the worst
per-image cosine to A over every block. Then end to end: `extract()` (what `precompute` runs:
parallel decode, engine choice with its first-batch fidelity check, writing the cache) on the
same images into a fresh entry, against A timed just before and just after it. The one-time
timing of the candidates (cached per model and machine) is done and printed before that.
Uses its own cache folder (<repo>/cache/bench-extract) so the export is reused across runs.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

from analysis.paths import REPO_ROOT

os.environ.setdefault("LAYERSCOPE_CACHE", str(REPO_ROOT / "cache" / "bench-extract"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from analysis.data.datasets import open_dataset  # noqa: E402
from analysis.data.decode import BatchDecoder  # noqa: E402
from analysis.descriptors.engines import EngineUnavailable, choose_engine, gap, worst_cosine  # noqa: E402
from analysis.descriptors.engines.openvino_engine import OpenVinoEngine  # noqa: E402
from analysis.descriptors.extract import extract  # noqa: E402
from analysis.descriptors.store import clear_entries  # noqa: E402
from analysis.models.hooks import capture  # noqa: E402
from analysis.models.model import load_model  # noqa: E402


def plain_forward(model):
    """A: a private NCHW copy of the net, full forward, GAP hooks through the one hook helper."""
    net = copy.deepcopy(model.net).to(memory_format=torch.contiguous_format).eval()
    mods = {b.index: net.get_submodule(b.module) for b in model.blocks}

    @torch.inference_mode()
    def run(x):
        with capture(mods, gap) as out:
            net(x.contiguous())
            return {i: out[i].numpy() for i in sorted(out)}
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--weights", default=None, help="e.g. random (timm models without downloading)")
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    model = load_model(args.model, weights=args.weights, device="cpu")
    ds = open_dataset("garments").subset(np.arange(args.n))
    batches = [x for _, x, _ in BatchDecoder(model).batches(ds.paths, 0, args.batch)]
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    print(f"model {model.name} ({model.weights_id}), {args.n} built-in images, batch {args.batch}, CPU {cpu}, "
          f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"LD_PRELOAD={'tcmalloc' if 'tcmalloc' in os.environ.get('LD_PRELOAD', '') else 'none'}, "
          f"load average {os.getloadavg()[0]:.1f}")

    paths = {"A plain": plain_forward(model)}
    torch_choice, _ = choose_engine(model, batches[0], "torch", "auto")
    paths[f"B torch {torch_choice.engine.precision}"] = torch_choice.engine
    for prec, key in (("fp32", "C ov-fp32"), ("bf16", "D ov-bf16")):
        try:
            t = time.perf_counter()
            paths[key] = OpenVinoEngine(model, prec)
            print(f"{key}: ready in {time.perf_counter() - t:.1f} s (export cached under {os.environ['LAYERSCOPE_CACHE']})")
        except EngineUnavailable as exc:
            print(f"{key}: skipped ({exc})")
    for run in paths.values():
        run(batches[0][:2])  # warm-up
    secs = {k: [] for k in paths}
    outs = {k: {b.index: [] for b in model.blocks} for k in paths}
    for x in batches:  # interleaved: each path on the same batch, in turn
        for k, run in paths.items():
            t = time.perf_counter()
            o = run(x)
            secs[k].append(time.perf_counter() - t)
            for i, v in o.items():
                outs[k][i].append(v)
    sizes = [len(x) for x in batches]
    ref = {i: np.concatenate(v) for i, v in outs["A plain"].items()}
    print(f"{'path':<16}{'median img/s':>14}{'ratio median':>14}{'min':>7}{'max':>7}{'worst cosine':>15}")
    for k in paths:
        ips = statistics.median(n / s for n, s in zip(sizes, secs[k]))
        ratios = [a / b for a, b in zip(secs["A plain"], secs[k])]
        cos = worst_cosine(ref, {i: np.concatenate(v) for i, v in outs[k].items()})
        print(f"{k:<16}{ips:>14.1f}{statistics.median(ratios):>13.2f}x{min(ratios):>6.2f}x{max(ratios):>6.2f}x"
              f"{cos:>15.6f}")

    # End to end: extract() from files to a finished cache entry, against A just before and after.
    def plain_rate() -> float:
        t = time.perf_counter()
        for x in batches:
            paths["A plain"](x)
        return sum(sizes) / (time.perf_counter() - t)

    t = time.perf_counter()  # so the timed extract() below finds the candidate timing cached, as every later run does
    choose_engine(model, batches[0], "auto", "auto")
    print(f"auto choice (candidate timing, cached per model + machine, and the first-batch fidelity check): "
          f"{time.perf_counter() - t:.1f} s")
    before = plain_rate()
    clear_entries()
    t = time.perf_counter()
    store = extract(model, ds, batch_size=args.batch)
    e2e = args.n / (time.perf_counter() - t)
    after = plain_rate()
    prov = store.manifest["provenance"]
    print(f"end to end extract(): {e2e:.1f} img/s with {prov['engine']}/{prov['precision']} (decode, first-batch "
          f"fidelity check cos {prov['min_cosine_to_fp32']:.6f}, cache writes) vs plain fp32 forward "
          f"{before:.1f} before / {after:.1f} after -> {e2e / ((before + after) / 2):.2f}x")
    for note in prov.get("engine_notes", []):
        print(f"  engine note: {note}")


if __name__ == "__main__":
    main()
