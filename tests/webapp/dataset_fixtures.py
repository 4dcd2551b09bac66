"""Fixtures for dataset tests: media in a private folder with a sentinel folder beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile


@pytest.fixture
def media(tmp_path, settings):
    """MEDIA_ROOT in tmp_path/media and an empty tmp_path/outside that must stay empty."""
    root = tmp_path / "media"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


def files_outside_media(tmp_path: Path) -> list[str]:
    media = tmp_path / "media"
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if p.is_file() and media not in p.parents)


def version_with_upload(*, user, workspace_name: str, data: bytes, name: str = "Parts"):
    """An INGESTING version whose stored upload is `data`, without queueing the worker."""
    from webapp.accounts.models import Workspace
    from webapp.datasets.services import _dataset_version_new

    version = _dataset_version_new(user=user, workspace=Workspace.objects.get(name=workspace_name), name=name)
    version.upload.save("upload.zip", ContentFile(data), save=True)
    return version
