"""Serving the small JPEGs kept beside a dataset version's images (ingestion makes a few per class,
a finished job one per test image it got wrong). Callers decide which images a user may see; this
only answers for names we generated, so a URL cannot be bent into another storage path."""

import re

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from webapp.datasets.services import version_thumbnail_name

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def thumbnail_response(version_id: int, sha256: str) -> FileResponse:
    if not SHA256_RE.match(sha256):
        raise Http404("Not found.")
    return jpeg_response(version_thumbnail_name(version_id, sha256))


def jpeg_response(name: str) -> FileResponse:
    """A stored JPEG whose name the caller made itself (never taken from a URL)."""
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("Not found.") from None  # the storage's error is no business of the visitor
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"  # written once, never changed
    return response
