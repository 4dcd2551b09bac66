"""Deleting a folder of the file storage (local media or S3) by its storage name. Names are relative
to the storage's root and the storage refuses any that leaves it, so nothing outside media is touched."""

from __future__ import annotations

import logging
import os

from django.core.files.storage import default_storage

log = logging.getLogger(__name__)


def storage_files(prefix: str) -> list[str]:
    """Every file under `prefix` (a folder name), at any depth; [] when it does not exist."""
    try:
        folders, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = [f"{prefix}/{name}" for name in files]
    for folder in folders:
        names += storage_files(f"{prefix}/{folder}")
    return names


def storage_delete_tree(prefix: str) -> int:
    """Delete every file under `prefix`, then its empty folders where the storage has folders.
    Returns how many files went; one that cannot be deleted now is left for the next pass."""
    deleted = 0
    for name in storage_files(prefix):
        try:
            default_storage.delete(name)
            deleted += 1
        except OSError:
            log.warning("could not delete %s", name, exc_info=True)
    remove_empty_folders(prefix)
    return deleted


def remove_empty_folders(prefix: str) -> None:
    """Remove `prefix` and the folders below it that hold no file (local storage only: object
    storage has no folders to remove)."""
    try:
        root = default_storage.path(prefix)
    except NotImplementedError:
        return

    if not os.path.isdir(root):
        return
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):  # deepest first
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty: a file is still there
