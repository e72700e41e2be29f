"""Extraction speed: our pipeline vs a plain fp32 eval forward on the same batches.

    python benchmarks/extract.py [--model efficientnet_lite0] [--weights random] [--n 256] [--batch 32]

Prints images/s of both, their ratio, the precision our pipeline chose and the largest cosine
distance between our descriptors and fp32 descriptors. Run under tcmalloc as run.sh does
(`source scripts/env.sh`) to see the deployed speed.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from analysis.data.datasets import open_dataset
from analysis.data.images import load_image
from analysis.descriptors.extract import Pooler, choose_precision
from analysis.models.model import load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--precision", default="auto")
    args = ap.parse_args()
    model = load_model(args.model, weights=args.weights)
    ds = open_dataset(f"garments:n={max(args.n, 100)}")
    batches = [torch.stack([model.preprocess(load_image(p)) for p in ds.paths[s:s + args.batch]])
               for s in range(0, args.n, args.batch)]
    n = sum(len(b) for b in batches)
    print(f"model {model.name} ({model.weights_id}) on {model.device}, {n} images, batch {args.batch}, "
          f"threads {torch.get_num_threads()}, LD_PRELOAD={'tcmalloc' if 'tcmalloc' in os.environ.get('LD_PRELOAD', '') else 'none'}")

    # Plain fp32 eval forward, contiguous memory format, with the same pooling hooks (reference).
    model.net.to(memory_format=torch.contiguous_format)
    ref = {b.index: [] for b in model.blocks}
    with Pooler(model) as pool:
        pool.model.net(batches[0][:2].contiguous())  # warm-up
        t = time.perf_counter()
        for x in batches:
            with torch.inference_mode():
                model.net(x.contiguous())
            for i, v in pool.out.items():
                ref[i].append(v.numpy().copy())
        plain = n / (time.perf_counter() - t)

    # Our path: channels_last + the precision choose_precision keeps (cosine >= 0.999) + hooks.
    model.net.to(memory_format=torch.channels_last)
    ours = {b.index: [] for b in model.blocks}
    with Pooler(model) as pool:
        dtype, cos = choose_precision(pool, batches[0], args.precision)
        pool(batches[0][:2], dtype)  # warm-up
        t = time.perf_counter()
        for x in batches:
            for i, v in pool(x, dtype).items():
                ours[i].append(v)
        fast = n / (time.perf_counter() - t)

    worst = 0.0
    for i in ref:
        a, b = np.concatenate(ref[i]), np.concatenate(ours[i])
        c = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
        worst = max(worst, float(1 - c.min()))
    print(f"plain fp32 forward : {plain:7.1f} img/s")
    print(f"LayerScope extract : {fast:7.1f} img/s  ({'fp32' if dtype is None else dtype}, channels_last; "
          f"first-batch bf16 check cosine {cos if cos is None else round(cos, 5)})")
    print(f"ratio              : {fast / plain:7.2f}x")
    print(f"max cosine distance to fp32 descriptors: {worst:.2e}")


if __name__ == "__main__":
    main()
