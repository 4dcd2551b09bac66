"""Files go through Django's storage API: local media by default, S3-compatible storage by setting."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRINT_STORAGE = ("from django.core.files.storage import storages; s = storages['default']; "
                 "print(type(s).__name__, getattr(s, 'bucket_name', ''))")


def _storage_class(tmp_path, **env) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", PRINT_STORAGE], cwd=ROOT,
        capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "WEBAPP_VAR_DIR": str(tmp_path), **env},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_local_media_is_the_default(tmp_path):
    assert _storage_class(tmp_path) == "FileSystemStorage"


def test_s3_compatible_storage_by_setting(tmp_path):
    assert _storage_class(tmp_path, STORAGE_BACKEND="s3", S3_BUCKET="factory-a") == "S3Storage factory-a"


READ_BACK = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
name = default_storage.save("big/object.bin", ContentFile(b"x" * (3 * 1024 * 1024)))
with default_storage.open(name, "rb") as handle:
    assert handle.read(4) == b"xxxx"
    print("on disk" if handle.file._rolled else "in memory")
"""


def test_large_objects_read_from_s3_spool_to_disk_not_memory(tmp_path, s3_server):
    """django-storages keeps a whole object in memory unless told otherwise; a 1 GiB upload must not be."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", READ_BACK], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "WEBAPP_VAR_DIR": str(tmp_path),
             **s3_server.new_bucket("spool-test")}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "on disk"
