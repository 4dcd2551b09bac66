"""Small image zips built inside the tests (hostile ones included); nothing is read from outside."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def png_bytes(color=(200, 30, 30), size=(12, 10), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(seed: int, size=(16, 16), mode="RGB") -> bytes:
    """A JPEG whose pixels depend on the seed, so each is a different image."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "CMYK": 4, "L": 1}[mode]
    arr = rng.integers(0, 255, size=(size[1], size[0], channels), dtype=np.uint8)
    img = Image.fromarray(arr[..., 0] if channels == 1 else arr, mode=mode if channels == 4 else None)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def gray16_png(size=(9, 7)) -> bytes:
    arr = (np.arange(size[0] * size[1], dtype=np.uint16).reshape(size[1], size[0]) * 1000)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, format="PNG")
    return out.getvalue()


def huge_png_header(width=100_000, height=100_000) -> bytes:
    """A tiny PNG that declares gigapixels: the decompression bomb that fools naive decoders."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def make_zip(entries: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_with_symlink(entries: dict[str, bytes], link_name: str, target: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo(link_name)
        info.create_system = 3  # unix
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)
    return buf.getvalue()


def class_images(classes: dict[str, int], *, seed: int = 0, prefix: str = "") -> dict[str, bytes]:
    """{"<prefix><class>/img_<i>.jpg": jpeg} with distinct images."""
    out = {}
    n = seed * 1000
    for label, count in classes.items():
        for i in range(count):
            n += 1
            out[f"{prefix}{label}/img_{i:03d}.jpg"] = jpeg_bytes(n)
    return out


def good_zip(classes: dict[str, int] | None = None, **kwargs) -> bytes:
    return make_zip(class_images(classes or {"scratches": 4, "no_defect": 4}, **kwargs))
