"""Turning any image an engineer may have (grayscale, 16-bit, RGBA, CMYK, palette, rotated by EXIF)
into one form the tuner can rely on: an 8-bit RGB JPEG or PNG. A file that already is one, and decodes
fully, is kept byte for byte (re-encoding it cost most of an upload's time and changed nothing the
tuner sees); any other image becomes a PNG. Problems come back as plain sentences."""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
# PNG compression level: 1 is several times faster than the default 6 and only ~10% larger on photos,
# and ingestion time is what an engineer waits for.
PNG_COMPRESS_LEVEL = 1
# Pillow warns between its own limit and twice that; we apply DATASET_MAX_IMAGE_PIXELS ourselves, from
# the header, so the warning says nothing new. (A module-level filter: catch_warnings is not thread-safe.)
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageProblem(Exception):
    """A single file that cannot be used; the message says why, for the report."""


@dataclass(frozen=True)
class NormalisedImage:
    data: bytes  # what is stored: the uploaded bytes when kept, else a PNG
    suffix: str  # ".jpg" or ".png", the stored file's type
    sha256: str
    size: tuple[int, int]
    source_mode: str
    thumbnail: bytes  # small JPEG, made while the decoded image is at hand (cheap next to the PNG)


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and 32-bit grayscale keep their contrast when brought down to 8 bits."""
    arr = np.asarray(img)
    if img.mode == "F":
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
    else:
        # I;16 files store 0..65535; mode "I" from a 16-bit PNG does too. Smaller ranges are 8-bit data.
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        scaled = arr.astype(np.float64) * (255.0 / top)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        img = _to_8bit(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels have no colour of their own: lay the image on white, as viewers show it.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return img


def _open_checked(data: bytes, *, max_pixels: int, name_looks_like_image: bool) -> Image.Image:
    """The image, opened from its header only (no pixel decoded yet), or ImageProblem with the reason."""
    try:
        img = Image.open(io.BytesIO(data))
        width, height = img.size
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            # Pillow stops at the header of a gigapixel image (a "decompression bomb"); say how big it claims to be.
            found = re.search(r"\((\d+) pixels\)", str(exc))
            claimed = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
            raise ImageProblem(f"the image has {claimed}, more than the limit of {max_pixels:,} pixels") from exc
        if name_looks_like_image:
            raise ImageProblem("the file could not be read as an image (it is damaged or not really an image)") from exc
        raise ImageProblem("not an image file") from exc
    except Exception as exc:  # Pillow raises assorted errors on malformed headers
        raise ImageProblem("the image file is damaged or cut short (its header cannot be read)") from exc

    if width * height > max_pixels:
        # Checked from the header, before decoding: a tiny file can declare gigapixels.
        raise ImageProblem(
            f"the image is {width:,} x {height:,} pixels, more than the limit of {max_pixels:,} pixels"
        )
    if width < 1 or height < 1:
        raise ImageProblem("the image has no pixels")
    return img


def normalise_image(data: bytes, *, max_pixels: int, name_looks_like_image: bool) -> NormalisedImage:
    """Decode `data` and return it as an 8-bit RGB PNG, or raise ImageProblem with the reason."""
    img = _open_checked(data, max_pixels=max_pixels, name_looks_like_image=name_looks_like_image)
    source_mode = img.mode
    try:
        img.load()  # decodes every pixel: a truncated or damaged file fails here
        keep = _stored_as_is(img, data)
        rgb = _to_rgb(ImageOps.exif_transpose(img) or img)
    except Exception as exc:  # truncated JPEG/PNG data, bad compression streams, ...
        raise ImageProblem("the image data is damaged or cut short and could not be decoded") from exc

    if keep:
        stored, suffix = data, (".jpg" if img.format == "JPEG" else ".png")
    else:
        out = io.BytesIO()
        rgb.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        stored, suffix = out.getvalue(), ".png"
    return NormalisedImage(data=stored, suffix=suffix, sha256=hashlib.sha256(stored).hexdigest(), size=rgb.size,
                           source_mode=source_mode, thumbnail=thumbnail_jpeg(rgb))


def decode_reduced(data: bytes, *, max_pixels: int, name_looks_like_image: bool,
                   shorter_side: int) -> tuple[Image.Image, bytes]:
    """(upright 8-bit RGB image, JPEG thumbnail) for a quick look such as "try an image": decoded at no more
    than it takes to keep `shorter_side` pixels on its shorter side, since the model sees a few hundred
    pixels and a 40-megapixel photo decoded whole holds 120 MB. A JPEG decodes straight at 1/2, 1/4 or 1/8
    of its size (Pillow's draft mode); other formats are reduced by a whole factor right after decoding.
    The same checks and plain-words problems as normalise_image."""
    img = _open_checked(data, max_pixels=max_pixels, name_looks_like_image=name_looks_like_image)
    try:
        width, height = img.size
        if img.format == "JPEG":
            ratio = shorter_side / min(width, height)
            img.draft(img.mode, (max(1, round(width * ratio)), max(1, round(height * ratio))))
        img.load()  # decodes every pixel (of the draft): a truncated or damaged file fails here
        factor = min(img.size) // shorter_side
        if factor >= 2:
            if img.mode in ("1", "P") or img.mode.startswith("I;16"):  # modes Pillow cannot reduce: convert first
                img = _to_rgb(ImageOps.exif_transpose(img) or img)
            img = img.reduce(factor)  # keeps the EXIF orientation, applied just below
        rgb = _to_rgb(ImageOps.exif_transpose(img) or img)
    except Exception as exc:  # truncated JPEG/PNG data, bad compression streams, ...
        raise ImageProblem("the image data is damaged or cut short and could not be decoded") from exc
    return rgb, thumbnail_jpeg(rgb)


def _stored_as_is(img: Image.Image, data: bytes) -> bool:
    """An 8-bit RGB JPEG, or an 8-bit truecolour PNG without a transparent colour, already upright (no
    EXIF orientation to apply). Its bytes are what the tuner reads, unchanged."""
    if img.mode != "RGB" or img.getexif().get(ExifTags.Base.Orientation, 1) != 1:
        return False
    if img.format == "JPEG":
        return True  # Pillow's "RGB" JPEG is 3 components of 8 bits
    # PNG header: bit depth at byte 24, colour type (2 = truecolour) at byte 25. A 16-bit PNG also
    # opens as "RGB" in Pillow, so the header decides.
    return img.format == "PNG" and data[24:26] == bytes([8, 2]) and "transparency" not in img.info


def thumbnail_jpeg(img: Image.Image, *, size: int = 128) -> bytes:
    img = img.copy()
    img.thumbnail((size, size))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80)
    return out.getvalue()
