"""Files go through Django's storage API: local media by default, S3-compatible storage by setting."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRINT_STORAGE = "from django.core.files.storage import storages; s = storages['default']; print(type(s).__name__, getattr(s, 'bucket_name', ''))"


def _storage_class(tmp_path, **env) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", PRINT_STORAGE], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "WEBAPP_VAR_DIR": str(tmp_path), **env},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_local_media_is_the_default(tmp_path):
    assert _storage_class(tmp_path) == "FileSystemStorage"


def test_s3_compatible_storage_by_setting(tmp_path):
    assert _storage_class(tmp_path, STORAGE_BACKEND="s3", S3_BUCKET="factory-a") == "S3Storage factory-a"
