"""A job's start-up steps (loading the backbone, encoding its images, the zero-shot evaluation), written to
its row as they happen so the page names them, and timed so a finished job refines the time model."""

from __future__ import annotations

import time
from contextlib import contextmanager

from webapp.worker.fence import Fence

PROGRESS_WRITE_SECONDS = 0.5  # at most this often a row write for the encoding's progress


class Startup:
    def __init__(self, fence: Fence | None):
        self.fence = fence
        self.seconds: dict[str, float] = {}  # step -> seconds it took
        self.encoded = 0  # images encoded (not found in the cache)
        self._written = 0.0

    @contextmanager
    def step(self, name: str, total: int | None = None):
        self._write({"step": name, "done": 0, "total": total})
        started = time.perf_counter()
        try:
            yield self
        finally:
            self.seconds[name] = time.perf_counter() - started

    def progress(self, done: int, total: int) -> None:
        """The encoding's progress (tuning.data.load_image_folder's on_progress)."""
        self.encoded = max(self.encoded, done)
        if time.monotonic() - self._written >= PROGRESS_WRITE_SECONDS or done == total:
            self._write({"step": "encoding", "done": done, "total": total})

    def finished(self) -> None:
        self._write({})

    def _write(self, state: dict) -> None:
        self._written = time.monotonic()
        if self.fence is not None:
            self.fence.update(startup=state)
