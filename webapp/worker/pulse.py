"""Signs of life while a job runs, and the cancel check the tuner polls.

The heartbeat runs in a background thread, so it keeps beating through phases where the tuner
calls nothing back (loading a backbone, encoding images, evaluating). Each beat also adds the time
since the previous beat to `worker_seconds`, so the cost of an attempt that is later killed is
still counted.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import F
from django.utils import timezone

from webapp.core.heartbeat import Heartbeat
from webapp.jobs.models import Job
from webapp.worker import handback
from webapp.worker.fence import Fence
from webapp.worker.sink import MetricSink


class Pulse(Heartbeat):
    def __init__(self, fence: Fence, sink: MetricSink | None = None, *, every_s: float | None = None):
        super().__init__(every_s=every_s or settings.JOB_HEARTBEAT_SECONDS, name=f"job-{fence.job_id}-pulse")
        self.fence = fence
        self.sink = sink
        self._accounted = time.monotonic()
        self._lock = threading.Lock()

    @property
    def lost(self) -> bool:
        return self.fence.lost

    def unaccounted_seconds(self) -> float:
        """Worker time not yet added by a beat; the final write of the job adds it."""
        with self._lock:
            now = time.monotonic()
            spent, self._accounted = now - self._accounted, now
            return spent

    def tick(self) -> None:
        if self.sink is not None:
            self.sink.flush_if_due()

    def beat(self) -> None:
        self.fence.update(heartbeat_at=timezone.now(), worker_seconds=F("worker_seconds") + self.unaccounted_seconds())


class StopCheck:
    """`should_stop` for the tuner: True once cancel was asked for, once this attempt lost its job
    (the reaper requeued it), or once the worker is asked to stop (handback). Reads the row at most
    every `every_s` seconds."""

    def __init__(self, fence: Fence, *, every_s: float = 0.5):
        self.fence = fence
        self.every_s = every_s
        self._checked = float("-inf")
        self._answer = False

    def __call__(self) -> bool:
        if handback.requested():
            return True
        now = time.monotonic()
        if not self._answer and now - self._checked >= self.every_s:
            self._checked = now
            try:
                row = Job.objects.filter(pk=self.fence.job_id).values_list("status", "attempts",
                                                                           "cancel_requested").first()
            except (OperationalError, InterfaceError):
                connection.close()  # the database is briefly away: keep going, ask again next time
                return self.fence.lost
            if row is None or row[0] != Job.Status.RUNNING or row[1] != self.fence.attempt:
                self.fence.lost = True
            self._answer = self.fence.lost or bool(row and row[2])
        return self._answer or self.fence.lost
