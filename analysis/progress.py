"""The one progress-callback type every long library function accepts.

``progress(done, total, note)``: `done` of `total` steps are finished, `note` says what is being
worked on ("block 3: kNN", "batch 12"). Progress is always reported as counts, never as a
fraction, so a caller can show "12 / 40" as well as a bar. Raising from the callback cancels
the computation (nothing half-done is cached) — that is how the dashboard stops a run when a
control changes.

One concept that is NOT this type: activation maximisation's per-step callback
(``analysis.inspect.featureviz.render.StepCallback``) also receives the objective values and
may return False to stop with the partial images, so it keeps its own name.
"""
from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, done: int, total: int, note: str = "") -> None: ...


def report(progress: Progress | None, done: int, total: int, note: str = "") -> None:
    """Call `progress` if there is one (saves an `if progress is not None` at every call site)."""
    if progress is not None:
        progress(int(done), int(total), note)


def fraction(done: int, total: int) -> float:
    """done / total clipped to [0, 1] (1.0 when total is 0), for progress bars."""
    return 1.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
