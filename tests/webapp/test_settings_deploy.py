"""Production mode passes Django's deployment checks with real values, and refuses to run without a key."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        WEBAPP_MODE="production", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="tuning.factory.example",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", WEBAPP_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_mode_without_secret_key_says_what_to_set(tmp_path):
    result = _manage("check", WEBAPP_MODE="production", WEBAPP_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_the_product_runs_without_debug_and_keeps_its_own_secret_key(tmp_path):
    """What bin/serve runs (no SECRET_KEY, no DEBUG given): DEBUG off, a key made on first run and kept
    in var/, readable by its owner only, the same on every later start."""
    show = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"
    first = _manage("shell", "-v", "0", "-c", show, WEBAPP_VAR_DIR=str(tmp_path),
                    DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert first.returncode == 0, first.stderr
    debug, key = first.stdout.split()
    kept = tmp_path / "secret-key"
    assert debug == "False" and key == kept.read_text().strip() and len(key) >= 50
    assert kept.stat().st_mode & 0o077 == 0
    again = _manage("shell", "-v", "0", "-c", show, WEBAPP_VAR_DIR=str(tmp_path),
                    DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert again.stdout.split() == ["False", key]
