"""A background thread that proves a long task on a worker is alive: it writes a beat every few
seconds whatever the task is doing (reading a zip, loading a backbone), so that a reaper can tell a
silent task (its worker killed, powered off, frozen) from a slow one.

Subclasses say what a beat writes (`beat`), whether the task still owns its row (`lost`) and what
else to do on each short tick (`tick`, e.g. flush buffered metric points).
"""

from __future__ import annotations

import threading
import time

from django.db import close_old_connections, connections

TICK_SECONDS = 0.25  # how often `tick` runs and the stop flag is looked at


class Heartbeat:
    def __init__(self, *, every_s: float, name: str):
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    @property
    def lost(self) -> bool:
        return False

    def tick(self) -> None:
        pass

    def beat(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        next_beat = time.monotonic() + self.every_s
        try:
            while not self._stop.wait(TICK_SECONDS) and not self.lost:
                try:
                    self.tick()
                    if time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + self.every_s
                        self.beat()
                except Exception:  # noqa: BLE001 - e.g. the database restarting: try again next tick;
                    close_old_connections()  # only a silence longer than the stale limit counts
        finally:
            connections.close_all()  # this thread's connections only
