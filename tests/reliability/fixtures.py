"""Hostile and careless inputs, built on the fly: bad image files, CSV variants, fake Fashion-MNIST."""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def good_png(path: Path, colour: tuple[int, int, int], seed: int, size: int = 32) -> Path:
    rng = np.random.default_rng(seed)
    a = np.clip(np.asarray(colour)[None, None, :] + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


def good_folder(root: Path, per_class: int = 5, seed: int = 0) -> Path:
    for c, colour in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
        for i in range(per_class):
            good_png(root / c / f"{c}{i}.png", colour, seed * 100 + i + (50 if c == "blue" else 0))
    return root


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A decompression bomb as far as the header goes: tiny file, absurd pixel count."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4)  # four rows of zeros: the rest "compresses away"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def png16(path: Path, width: int, height: int) -> Path:
    """A valid 16-bit grayscale PNG (mode I;16) with a gradient over the full 16-bit range."""
    a = (np.linspace(0, 65535, width * height).reshape(height, width)).astype(np.uint16)
    Image.fromarray(a).save(path)
    assert Image.open(path).mode.startswith("I;16")
    return path


def bad_files(folder: Path) -> dict[str, Path]:
    """Every kind of broken image the catalogue lists, in one class folder."""
    folder.mkdir(parents=True, exist_ok=True)
    good = good_png(folder / "ok.png", (30, 200, 30), 7, size=48)
    truncated = folder / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    zero = folder / "zero.jpg"
    zero.write_bytes(b"")
    text = folder / "text.jpg"
    text.write_text("this is not a JPEG\n")
    bomb = png_claiming(folder / "bomb.png", 30000, 30000)
    wide16 = png16(folder / "wide16.png", 4200, 8)  # >= 4000 px 16-bit: was refused as "wrong mode"
    small16 = png16(folder / "small16.png", 40, 30)
    latin1 = os.path.join(os.fsencode(folder), b"caf\xe9.png")  # not valid UTF-8
    with open(latin1, "wb") as f:
        f.write(good.read_bytes())
    return {"good": good, "truncated": truncated, "zero": zero, "text": text, "bomb": bomb, "wide16": wide16,
            "small16": small16, "latin1": Path(os.fsdecode(latin1))}


def fake_fashion_mnist(root: Path, n: int = 100) -> Path:
    """t10k IDX files where the labels come sorted (all class 0 first): 'the first n' is one class."""
    root.mkdir(parents=True, exist_ok=True)
    labels = np.repeat(np.arange(10), n // 10).astype(np.uint8)
    images = np.random.default_rng(0).integers(0, 255, (n, 28, 28), dtype=np.uint8)
    with gzip.open(root / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", n, 28, 28) + images.tobytes())
    with gzip.open(root / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", n) + labels.tobytes())
    return root
