"""Cost of the "which model" analyses: CKA feature vs Gram form (interleaved), LogME, label flags.

    python benchmarks/models.py [--n 1000] [--repeats 5]

Random descriptors shaped like EfficientNet-Lite blocks (16 … 320 channels). Prints medians and
the ratio of the two CKA forms, timed A B A B so machine load hits both alike.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from analysis.probes import cka
from analysis.probes.label_noise import flag_images
from analysis.probes.logme import logme


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.n
    y = np.arange(n) % 10
    X = rng.normal(size=(n, 320)).astype(np.float32)
    Y = (X[:, :112] + rng.normal(size=(n, 112))).astype(np.float32)

    def form(gram: bool) -> float:
        a, b = cka._Rep(X, "X"), cka._Rep(Y, "Y")
        if gram:
            return float(np.vdot(a.gram, b.gram)) / (float(np.linalg.norm(a.gram)) * float(np.linalg.norm(b.gram)))
        return float(np.linalg.norm(b.X.T @ a.X) ** 2) / (float(np.linalg.norm(a.X.T @ a.X)) *
                                                          float(np.linalg.norm(b.X.T @ b.X)))

    feat, gram = [], []
    for _ in range(args.repeats):  # interleaved: A B A B
        feat.append(_time(lambda: form(False)))
        gram.append(_time(lambda: form(True)))
    assert abs(form(False) - form(True)) < 1e-9  # the two forms are the same number
    mf, mg = statistics.median(feat), statistics.median(gram)
    print(f"CKA n={n}, 320 vs 112 channels: feature form {mf * 1e3:.1f} ms, Gram form {mg * 1e3:.1f} ms "
          f"(median of {args.repeats}; Gram/feature = {mg / mf:.1f}x); linear_cka picks the cheaper one")
    blocks = {f"block {i}": rng.normal(size=(n, c)).astype(np.float32) for i, c in enumerate((16, 24, 40, 112, 320), 1)}
    t = statistics.median(_time(lambda: cka.cka_matrix(blocks)) for _ in range(args.repeats))
    print(f"CKA 5x5 matrix of one model (16…320 channels), n={n}: {t * 1e3:.0f} ms")
    t = statistics.median(_time(lambda: logme(X, y)) for _ in range(args.repeats))
    print(f"LogME, n={n}, 320 channels, 10 classes: {t * 1e3:.0f} ms")
    t = statistics.median(_time(lambda: flag_images(X, y, k=10)) for _ in range(args.repeats))
    print(f"label flags (k=10, cosine), n={n}, 320 channels: {t * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
