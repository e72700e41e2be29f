"""Timings of the channel explorer's analyses on the built-in model (CPU unless a GPU is present).

    python benchmarks/channels.py            # everything (~2-3 minutes on 2 cores)
    python benchmarks/channels.py --quick    # skip ScoreCAM and the 512-step render

Prints: CAM time per 224 px image for each method at the last block (ScoreCAM at every block),
deletion/insertion cost (16 steps), activation-maximization previews (64 steps, 128 px; one
channel and a batch of 4 per block) and one full 512-step render with a progress callback.
Each figure is the median of `--repeat` runs after one warm-up run.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from PIL import Image
from skimage import data

from analysis.inspect.cam import CAM_METHODS, compute_cam
from analysis.inspect.faithfulness import deletion_insertion
from analysis.inspect.featureviz import visualize_channels
from analysis.inspect.masks import channel_mask
from analysis.models.model import load_model


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    m = load_model()
    print(f"device={m.device} torch threads={torch.get_num_threads()}")
    x = m.preprocess(Image.fromarray(data.chelsea()))
    last = len(m.blocks)
    for name in CAM_METHODS:
        if name == "ScoreCAM":
            continue
        s = timed(lambda: compute_cam(m, x, method=name), args.repeat)
        print(f"CAM {name:<11} block {last}: {s:.3f} s")
    if not args.quick:
        for b in range(1, last + 1):
            s = timed(lambda: compute_cam(m, x, block=b, method="ScoreCAM"), 1)
            print(f"CAM ScoreCAM    block {b} ({m.blocks[b - 1].channels} channels): {s:.2f} s")
    r = compute_cam(m, x)
    s = timed(lambda: deletion_insertion(m, x, r.heatmap, r.target, steps=16), args.repeat)
    print(f"deletion+insertion, 16 steps (34 forwards): {s:.2f} s")
    s = timed(lambda: channel_mask(m, x, 3, 0), args.repeat)
    print(f"binary mask (block 3): {s:.3f} s")
    for b in range(1, last + 1):
        one = timed(lambda: visualize_channels(m, b, [0], steps=64, image_size=128), args.repeat)
        four = timed(lambda: visualize_channels(m, b, [0, 1, 2, 3], steps=64, image_size=128), 1)
        print(f"AM preview 64 steps 128 px block {b}: 1 channel {one:.2f} s, 4 channels {four:.2f} s")
    if not args.quick:
        calls = []
        t = time.perf_counter()
        visualize_channels(m, last, [0], steps=512, image_size=128, progress=lambda s, n, v: calls.append(s))
        print(f"AM full 512 steps 128 px block {last}: {time.perf_counter() - t:.1f} s ({len(calls)} callbacks)")


if __name__ == "__main__":
    main()
