"""The `tuning` wheel the dashboard offers beside every adapter download: the package a line PC installs
to apply an adapter (`pip install tuning-<version>-py3-none-any.whl`, then `tuning predict ...`).

It is built from this source tree, the same code the workers tune with, so the wheel always matches the
adapters the dashboard makes. `bin/serve` builds it at start (`manage.py build_tuning_wheel`); otherwise
the first request builds it (seconds: no compiler, the demo weights are copied). One build at a time
(a file lock); a finished wheel is moved into place whole, so a reader never sees half a file.
"""
from __future__ import annotations

import fcntl
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings

from tuning.version import __version__

log = logging.getLogger(__name__)


class WheelUnavailable(Exception):
    """The wheel could not be built here; the message is for the page, the details for the log."""


def wheel_filename() -> str:
    return f"tuning-{__version__}-py3-none-any.whl"


def _directory() -> Path:
    return Path(settings.TUNING_WHEEL_DIR)


def tuning_wheel(*, rebuild: bool = False) -> Path:
    """The wheel of this dashboard's `tuning` version, built on the first call. `rebuild`: build it again
    from the sources as they are (bin/serve does at every start, so code changed under an unchanged
    version number is not served from an older wheel)."""
    target = _directory() / wheel_filename()
    if target.exists() and not rebuild:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if rebuild or not target.exists():  # another process may have built it while this one waited
            _build(target)
    return target


def _build(target: Path) -> None:
    root = Path(settings.BASE_DIR)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        # A copy of the package: a build writes build/ and *.egg-info beside its sources, and the
        # deployed source tree may be read-only.
        source = Path(scratch) / "src"
        source.mkdir()
        shutil.copy(root / "pyproject.toml", source)
        shutil.copytree(root / "tuning", source / "tuning", ignore=shutil.ignore_patterns("__pycache__"))
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
             "-w", str(Path(scratch) / "dist"), str(source)],
            capture_output=True, text=True, timeout=600,
        )
        made = Path(scratch) / "dist" / wheel_filename()
        if built.returncode != 0 or not made.exists():
            log.error("building the tuning wheel failed:\n%s", built.stderr[-4000:])
            raise WheelUnavailable(
                "The tuning package could not be packaged on this server. Ask an administrator to run "
                "`python manage.py build_tuning_wheel`, which says why."
            )
        made.replace(target)
