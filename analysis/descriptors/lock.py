"""One lock per cache entry, so two sessions (or two CLIs) never build the same entry at once.

An advisory `flock` on `<entry>.lock` beside the entry: the kernel drops it when the holder dies,
so a crash never leaves a stuck lock (the file itself may stay; it means nothing unlocked).
flock conflicts between separate open()s, so it also orders two threads of one server.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from analysis.errors import LayerScopeError


def lock_path(entry: Path) -> Path:
    return entry.with_name(entry.name + ".lock")


def is_locked(entry: Path) -> bool:
    """True while some process or thread holds the entry's lock (i.e. is computing it)."""
    p = lock_path(entry)
    if not p.exists():
        return False
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@contextmanager
def entry_lock(entry: Path, timeout: float | None = None, poll: float = 0.2,
               waiting: Callable[[float], None] | None = None) -> Iterator[None]:
    """Hold the entry's exclusive lock. Waits for another holder (calling `waiting(seconds)` while it
    does); after `timeout` seconds raises a LayerScopeError saying the entry is being computed."""
    p = lock_path(entry)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LayerScopeError(f"Cannot write in the cache folder {p.parent} ({exc.strerror}): point "
                              "LAYERSCOPE_CACHE to a writable folder.") from None
    t0 = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - t0
                if timeout is not None and waited >= timeout:
                    raise LayerScopeError(
                        "These descriptors are being computed right now by another session or command; "
                        "they appear when it finishes (try again in a moment).") from None
                if waiting is not None:
                    waiting(waited)
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
