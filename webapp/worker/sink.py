"""The worker's metric buffer: points from `tuning.tune(on_metrics=...)` go to MetricPoint rows in
batches (about once a second, or every FLUSH_POINTS points), together with the job's progress.

Points live in the database, never in Redis, so a broker restart loses none. After a crash the
tuner resumes from its last checkpoint and replays the steps made since then; the points of those
steps are already stored, so the sink drops any point not past the last stored one and the curves
(and the browser's `after=<seq>` cursor) stay monotone.
"""

from __future__ import annotations

import threading
import time

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from webapp.core.numbers import finite_or_none as _finite  # NaN and infinities are stored as missing values
from webapp.integrations.tuning import MetricPointDict, Stage
from webapp.jobs.models import MetricPoint
from webapp.worker.fence import Fence

FLUSH_SECONDS = 1.0
FLUSH_POINTS = 200
MAX_PENDING = 50_000  # beyond this a database outage fails the job rather than filling the memory
SWITCH_FROM, SWITCH_TO = Stage.CMAES, Stage.ZO  # the SharpZO stage switch drawn on the plots


class MetricSink:
    def __init__(self, fence: Fence, *, flush_seconds: float = FLUSH_SECONDS, flush_points: int = FLUSH_POINTS):
        self.fence = fence
        self.flush_seconds = flush_seconds
        self.flush_points = flush_points
        self._lock = threading.Lock()
        self._pending: list[MetricPoint] = []
        self._oldest_pending = 0.0
        last = MetricPoint.objects.filter(job_id=fence.job_id).order_by("-seq").first()
        self._next_seq = last.seq + 1 if last else 1
        self._last_key = (last.queries, last.step) if last else None
        self._last_stage = last.stage if last else ""
        self._last_queries = last.queries if last else 0
        # A resumed tuner counts time from its checkpoint, which may be behind the last stored point.
        self._last_elapsed = last.elapsed_s if last else 0.0
        self._switch_at = None
        self.first_received: tuple[int, int] | None = None  # (queries, step): shows where a resume began

    # Called by the tuner, in the job's thread.
    def add(self, metrics: MetricPointDict) -> None:
        key = (int(metrics["queries"]), int(metrics["step"]))
        with self._lock:
            self.first_received = self.first_received or key
            if self._last_key is not None and key <= self._last_key:
                return  # replayed after a resume: already stored
            self._last_key = key
            stage = str(metrics["stage"])
            # The tuner marks the first point of each stage (tuning.Stage); the plots draw the one
            # switch from CMA-ES to ZO-SGD (method zosgd starts its ZO stage after zero-shot: no line).
            if metrics.get("stage_started") and stage == SWITCH_TO and self._last_stage == SWITCH_FROM:
                self._switch_at = self._last_queries  # where stage 1 ended
            self._last_stage, self._last_queries = stage, key[0]
            self._last_elapsed = max(self._last_elapsed, _finite(metrics.get("elapsed_s")) or 0.0)
            if not self._pending:
                self._oldest_pending = time.monotonic()
            self._pending.append(MetricPoint(
                job_id=self.fence.job_id, seq=self._next_seq, step=key[1], stage=stage, queries=key[0],
                train_loss=_finite(metrics.get("train_loss")), val_acc=_finite(metrics.get("val_acc")),
                sharpness=_finite(metrics.get("sharpness")), sparsity=_finite(metrics.get("sparsity")),
                params_changed=metrics.get("params_changed"),
                elapsed_s=self._last_elapsed,
            ))
            self._next_seq += 1
            if len(self._pending) >= self.flush_points or time.monotonic() - self._oldest_pending >= self.flush_seconds:
                self._flush_locked()

    # Also called by the heartbeat thread, so a lone point never waits for the next one.
    def flush_if_due(self) -> None:
        with self._lock:
            if self._pending and time.monotonic() - self._oldest_pending >= self.flush_seconds:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._flush_locked()

    def _flush_locked(self) -> None:
        points = self._pending
        last = points[-1]
        now = timezone.now()
        progress = {"queries_used": last.queries, "stage": last.stage, "heartbeat_at": now, "progress_at": now}
        if self._switch_at is not None:
            progress["stage_switch_queries"] = self._switch_at
        try:
            with transaction.atomic():
                if self.fence.update(**progress):
                    MetricPoint.objects.bulk_create(points)
        except (OperationalError, InterfaceError):
            # The database is briefly away (restart, failover): keep the points and try again at the
            # next flush; a fresh connection is opened then. The tuner is not interrupted.
            connection.close()
            if len(points) > MAX_PENDING:
                raise
            return
        # Written, or dropped because the job is no longer ours (cancelled outright or requeued).
        self._pending = []
        self._switch_at = None
