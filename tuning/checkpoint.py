"""FileCheckpoint: the tuner's resumable state as one JSON file, written atomically.

The state `tune` saves is plain JSON (numbers, lists, strings); CMA-ES is stored as the fitness
values it was told and replayed on resume (see stage1_cmaes.py), so no pickle is ever written or read.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Protocol

from .errors import TuningError


class Checkpoint(Protocol):
    """Where a run keeps its resumable state: FileCheckpoint here, a storage-backed one on a worker."""

    def load(self) -> dict | None: ...

    def save(self, state: dict) -> None: ...


class FileCheckpoint:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def load(self) -> dict | None:
        if not self.path.exists():
            return None
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TuningError(f"The checkpoint file {self.path} cannot be read ({exc}); "
                              "delete it to start over.") from exc

    def save(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(state))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target: a reader
    (or a crash) sees the old file or the new one, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
