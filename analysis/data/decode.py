"""Parallel image decoding for extraction: files -> normalised batches, as fast as the engine eats.

- Worker threads decode and resize (PIL releases the GIL in decode and resize, so threads scale).
- JPEGs are decoded at reduced DCT scale when the model's resize side is smaller (PIL `draft`,
  through the one image loader `analysis.data.images.load_image`).
- Per image only the model's own PIL steps run (its resize + centre crop, taken from the timm
  transform); to-tensor and normalisation run once per batch on the stacked uint8 array, with
  the same float operations as torchvision's ToTensor + Normalize, so values are identical.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

from analysis.data.images import load_image
from analysis.models.model import Model


def default_workers() -> int:
    """Decode threads: one per core, at least 2 (decode waits on disk too), at most 8."""
    return max(2, min(8, os.cpu_count() or 2))


def _split(model: Model):
    """(PIL steps before to-tensor, mean, std, resize side) from the model's transform, or None if unrecognised."""
    steps = list(getattr(getattr(model, "_transform", None), "transforms", []))
    names = [type(t).__name__ for t in steps]
    for k, n in enumerate(names):
        if n in ("ToTensor", "MaybeToTensor"):
            rest = steps[k + 1:]
            if len(rest) != 1 or type(rest[0]).__name__ != "Normalize":
                return None
            size = next((t.size for t in steps[:k] if type(t).__name__ == "Resize"), None)
            side = size if isinstance(size, int) else (min(size) if size else None)
            mean = torch.as_tensor(rest[0].mean, dtype=torch.float32).view(1, 3, 1, 1)
            std = torch.as_tensor(rest[0].std, dtype=torch.float32).view(1, 3, 1, 1)
            return steps[:k], mean, std, side
    return None


class BatchDecoder:
    """Decode files into normalised (N, 3, H, W) float32 batches for `model`, in worker threads."""

    def __init__(self, model: Model, workers: int | None = None):
        self.model = model
        self.workers = workers or default_workers()
        self.split = _split(model)
        self.size = model.input_size

    def _one(self, path: str) -> tuple[np.ndarray | torch.Tensor, str | None]:
        try:
            if self.split is None:  # unknown transform: the model's own per-image preprocess
                return self.model.preprocess(load_image(path)), None
            steps, _, _, side = self.split
            img = load_image(path, min_side=side)
            for t in steps:
                img = t(img)
            a = np.asarray(img, dtype=np.uint8)
            if a.shape != (self.size, self.size, 3):
                raise ValueError(f"preprocessing gave {a.shape}, expected ({self.size}, {self.size}, 3)")
            return a, None
        except Exception as exc:  # each bad file is reported by name; the rest go on
            return None, str(exc)

    def _assemble(self, items: list[tuple]) -> tuple[torch.Tensor, list[str | None]]:
        errs = [e for _, e in items]
        if self.split is None:
            zero = torch.zeros(3, self.size, self.size)
            return torch.stack([t if e is None else zero for t, e in items]), errs
        _, mean, std, _ = self.split
        u8 = np.zeros((len(items), self.size, self.size, 3), np.uint8)
        for j, (a, e) in enumerate(items):
            if e is None:
                u8[j] = a
        # ToTensor + Normalize for the whole batch: x / 255, then (x - mean) / std, as torchvision does.
        x = torch.from_numpy(u8).permute(0, 3, 1, 2).float().div_(255)  # NHWC memory: channels_last
        return x.sub_(mean).div_(std), errs

    def batches(self, paths: Sequence[str], start: int = 0, batch_size: int = 32,
                prefetch: int = 2) -> Iterator[tuple[int, torch.Tensor, list[str | None]]]:
        """Yield (first row, batch, per-row error or None) from `start` on; `prefetch` batches decode ahead."""
        starts = list(range(start, len(paths), batch_size))
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="decode") as pool:
            queue: deque[tuple[int, list[Future]]] = deque()

            def submit(k: int) -> None:
                s = starts[k]
                queue.append((s, [pool.submit(self._one, paths[i]) for i in range(s, min(s + batch_size, len(paths)))]))

            for k in range(min(prefetch + 1, len(starts))):
                submit(k)
            nxt = len(queue)
            try:
                while queue:
                    s, futs = queue.popleft()
                    x, errs = self._assemble([f.result() for f in futs])
                    if nxt < len(starts):
                        submit(nxt)
                        nxt += 1
                    yield s, x, errs
            finally:
                for _, futs in queue:  # stopped early (cancel, error): drop the decode still queued
                    for f in futs:
                        f.cancel()
