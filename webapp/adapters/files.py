"""The two adapter files in storage: where they live, reading them back, and the download archive.

Everything goes through `default_storage` (local disk or S3), so web and workers may run on
different machines. A prompt adapter is kilobytes, a sparse one's weights may be megabytes: downloads
stream from storage in blocks and are spooled, never read whole into memory.
"""

from __future__ import annotations

import hashlib
import io
import re
import shlex
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from webapp.integrations.tuning import parse_backbone_id
from webapp.integrations.tuning.wheel import wheel_filename

WEIGHTS_NAME = "adapter.safetensors"
CARD_NAME = "adapter.json"
README_NAME = "README.txt"
BLOCK_BYTES = 1 << 20
SPOOL_MEMORY_BYTES = 1 << 20  # a download larger than this is spooled to a temporary file


class StoredFileDamaged(Exception):
    """A stored adapter file no longer matches the checksum recorded when its version was created."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def storage_prefix(model_line_id: int, number: int) -> str:
    return f"adapters/{model_line_id}/v{number}"


def store_file(name: str, data: bytes) -> str:
    """Write one file under its canonical name and return the name storage used.

    A leftover at that name can only come from an attempt whose database transaction was rolled back
    (version numbers are allocated under a lock), so nothing refers to it and it is replaced."""
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


def _stored(version) -> dict[str, tuple[str, str]]:
    """{file name: (storage name, sha256 recorded when the version was created)}."""
    return {WEIGHTS_NAME: (version.weights_file, version.sha256), CARD_NAME: (version.card_file, version.card_sha256)}


def copy_verified(version, name: str, destination: BinaryIO) -> str:
    """Stream one file of a version from storage into `destination` in blocks (a sparse adapter's weights
    may be megabytes; on S3 nothing is held whole) and return its sha256, refusing a file whose content
    changed since the version was created. The caller discards `destination` on that error."""
    stored, expected = _stored(version)[name]
    digest = hashlib.sha256()
    with default_storage.open(stored, "rb") as source:
        for block in iter(lambda: source.read(BLOCK_BYTES), b""):
            digest.update(block)
            destination.write(block)
    if expected and digest.hexdigest() != expected:
        raise StoredFileDamaged(
            f"The stored {name} of {version} no longer matches the checksum recorded when it was created, "
            "so it is not offered for download. Ask an administrator to restore it from a backup."
        )
    return digest.hexdigest()


def read_verified(version) -> dict[str, bytes]:
    """Both files of a version in memory (for code that parses the card), checked like `copy_verified`."""
    found = {}
    for name in (WEIGHTS_NAME, CARD_NAME):
        buffer = io.BytesIO()
        copy_verified(version, name, buffer)
        found[name] = buffer.getvalue()
    return found


def spooled_verified(version, name: str) -> BinaryIO:
    """One verified file of a version, rewound, in a spool that goes to a temporary file once large."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    try:
        copy_verified(version, name, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def write_to_directory(version, directory: Path) -> Path:
    """Copy a version's two files into a local folder, as `tuning.load_adapter` expects them."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS_NAME, CARD_NAME):
        with open(directory / name, "wb") as destination:
            copy_verified(version, name, destination)
    return directory


def folder_name(version) -> str:
    """A file-system-safe name such as 'press-line-3-scratches-v3' for the archive and its folder."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", version.model_line.name).strip("-").lower() or "adapter"
    return f"{slug[:60]}-v{version.number}"


def build_archive(version) -> tuple[str, BinaryIO]:
    """(filename, rewound zip file): one folder holding the two adapter files and a README with the
    commands. The files stream from storage into the zip, and the zip is a spool that goes to a
    temporary file once large, so a download never holds a whole archive in memory."""
    folder = folder_name(version)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    try:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            hashes = {}
            for name in (WEIGHTS_NAME, CARD_NAME):
                with zf.open(f"{folder}/{name}", "w", force_zip64=True) as member:
                    hashes[name] = copy_verified(version, name, member)
            zf.writestr(f"{folder}/{README_NAME}", readme_text(version, folder, hashes))
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return f"{folder}.zip", spool


def _percent(value) -> str:
    return "not measured" if value is None else f"{100 * float(value):.1f}%"


def readme_text(version, folder: str, hashes: dict[str, str]) -> str:
    """Instructions for the person at the line PC; the round-trip test runs the predict command."""
    metrics = version.metrics or {}
    origin = (f"tuning job {version.job_id}" if version.job_id else "an uploaded adapter") + (
        f" ({version.note})" if version.note else ""
    )
    backbone_hint = ""
    backbone = parse_backbone_id(version.backbone)
    if backbone.checkpoint_path is not None:
        # The id comes from an adapter card, which anyone can write: quote it for the shell.
        argument = shlex.quote(f"{backbone.without_path}@/full/path/to/the/checkpoint")
        backbone_hint = (
            "\n   The backbone is a local checkpoint. If it sits at another path on this machine, add\n"
            f"       --backbone {argument}\n"
            "   (the checkpoint's sha256 must still be the one above, or the adapter is refused).\n"
        )
    classes = ", ".join(version.class_names)
    zero_shot, tuned = _percent(metrics.get("zero_shot_accuracy")), _percent(metrics.get("tuned_accuracy"))
    wheel, wheel_api = wheel_filename(), reverse("api:tuning_wheel")
    return f"""Adapter "{version.model_line.name}", version {version.number}
Created {version.created_at:%Y-%m-%d %H:%M} UTC from {origin}.
Backbone:        {version.backbone}
Backbone sha256: {version.backbone_sha256 or "not recorded"}
Method:          {version.method}
Classes, in order: {classes}
Test accuracy:   zero-shot {zero_shot}, tuned {tuned}

Files
  {WEIGHTS_NAME}  sha256 {hashes[WEIGHTS_NAME]}
      the learned prompt context and the class embeddings (safetensors: plain tensors, no pickle)
  {CARD_NAME}         sha256 {hashes[CARD_NAME]}
      the card: backbone, classes in order, method, settings and metrics

How to apply it on a machine that has the backbone
1. Install the `tuning` package (once per machine) from the wheel the dashboard offers beside this
   download ("tuning package" on the adapter's page; API: {wheel_api}). pip fetches torch and the other
   packages it needs, or takes them from a folder of wheels on a machine without internet:
       pip install {wheel}
       (offline: pip install --no-index --find-links WHEELS {wheel})
   This gives the command `tuning` (the same as `python -m tuning`).
2. Unpack this archive and check the files against the sums above:
       unzip {folder}.zip
       sha256sum {folder}/{WEIGHTS_NAME} {folder}/{CARD_NAME}
3. Classify a folder of images. It prints one line per image: the image's path, the predicted class and
   the confidence (0 to 1, four decimals), separated by tabs; --json prints one JSON object per line instead:
       tuning predict --adapter {folder} --images /path/to/images
{backbone_hint}4. Or from Python:
       import tuning
       adapter = tuning.load_adapter("{folder}")
       card = adapter.card  # a demo adapter's sha256 picks the demo version it was made with
       backbone = tuning.load_backbone(tuning.backbone_for_card(card["backbone_id"], card["backbone_sha256"]))
       for p in tuning.predict(adapter, backbone, ["/path/to/image.png"]):
           print(p.label, p.probabilities[p.index])

The adapter only works with the backbone it was tuned for: tuning refuses another one with a clear message.
"""
