"""Dataset ingestion recovers like a tuning job does (see webapp/worker/fence.py and pulse.py).

A version waits for a worker with no heartbeat; the delivery that claims it starts beating and
counts an attempt, and every later write is fenced by that attempt number. The reaper pass
(`ingestions_recover`, on the scheduler):
- a silent attempt (its worker killed, powered off, frozen) goes back to waiting and is sent again,
  up to JOB_MAX_ATTEMPTS; after the last one the version fails with a plain reason and the images
  that attempt had stored are removed;
- a waiting version whose message is not in the broker (sent while Redis was down, or a Redis that
  lost its data) is sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from webapp.core.heartbeat import Heartbeat
from webapp.core.storage_tree import storage_delete_tree
from webapp.datasets.models import DatasetVersion

log = logging.getLogger(__name__)

INGEST_TASK = "webapp.datasets.tasks.ingest_dataset_version"
DEMO_TASK = "webapp.datasets.tasks.build_demo_dataset"


@dataclass
class IngestFence:
    """Write access of one ingestion attempt to its version row (as webapp.worker.fence.Fence for a job)."""

    version_id: int
    attempt: int
    lost: bool = field(default=False)

    def rows(self):
        return DatasetVersion.objects.filter(pk=self.version_id, status=DatasetVersion.Status.INGESTING,
                                             attempts=self.attempt, heartbeat_at__isnull=False)

    def update(self, **fields) -> bool:
        if not self.lost and self.rows().update(**fields) != 1:
            self.lost = True
        return not self.lost


class IngestPulse(Heartbeat):
    def __init__(self, fence: IngestFence):
        super().__init__(every_s=settings.JOB_HEARTBEAT_SECONDS, name=f"ingest-{fence.version_id}-pulse")
        self.fence = fence

    @property
    def lost(self) -> bool:
        return self.fence.lost

    def beat(self) -> None:
        self.fence.update(heartbeat_at=timezone.now())


def ingestion_claim(version_id: int) -> IngestFence | None:
    """Waiting -> importing for exactly one delivery; None when another attempt holds it, or it is done."""
    claimed = DatasetVersion.objects.filter(
        pk=version_id, status=DatasetVersion.Status.INGESTING, heartbeat_at__isnull=True
    ).update(heartbeat_at=timezone.now(), attempts=F("attempts") + 1)
    if not claimed:
        return None
    return IngestFence(version_id, DatasetVersion.objects.values_list("attempts", flat=True).get(pk=version_id))


def ingestion_send_after_commit(version_id: int) -> None:
    """Hand the version's task to the broker once committed. With the broker away the version stays
    saved and waiting; the reaper's resend pass sends it once the broker is back."""
    from webapp.datasets.tasks import build_demo_dataset, ingest_dataset_version

    def send() -> None:
        has_upload = DatasetVersion.objects.filter(pk=version_id).exclude(upload="").exists()
        try:
            (ingest_dataset_version if has_upload else build_demo_dataset).delay(version_id)
        except Exception:  # noqa: BLE001 - kombu's connection errors vary with the transport
            log.warning("dataset version %s: broker unreachable, its task will be sent again later",
                        version_id, exc_info=True)
            return
        DatasetVersion.objects.filter(pk=version_id).update(sent_at=timezone.now())

    transaction.on_commit(send)


def version_files_prefix(version_id: int) -> str:
    """Everything an ingestion stores for a version (images and thumbnails) is under this folder."""
    return f"datasets/{version_id}"


@dataclass
class IngestReaperReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)


def ingestions_recover(*, now=None, queue: str | None = None) -> IngestReaperReport:
    """The reaper pass for ingestions; `queue` is where their tasks wait (default: the default queue)."""
    now = now or timezone.now()
    report = IngestReaperReport()
    _requeue_or_fail_silent(now, report)
    report.resent = _resend_lost(now, queue or settings.CELERY_TASK_DEFAULT_QUEUE)
    if report.requeued or report.failed or report.resent:
        log.warning("ingestions: requeued %s, failed %s, sent again %s", report.requeued, report.failed, report.resent)
    return report


def _upload_delete(version_id: int) -> None:
    from webapp.datasets.services import dataset_version_upload_delete  # services imports this module

    dataset_version_upload_delete(version_id=version_id)


def _requeue_or_fail_silent(now, report: IngestReaperReport) -> None:
    cutoff = now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    silent = DatasetVersion.objects.filter(status=DatasetVersion.Status.INGESTING, heartbeat_at__lt=cutoff)
    for version_id, attempts in silent.values_list("pk", "attempts"):
        # Conditional on the same attempt still being silent: a beat that arrives meanwhile wins.
        same = DatasetVersion.objects.filter(pk=version_id, status=DatasetVersion.Status.INGESTING,
                                             attempts=attempts, heartbeat_at__lt=cutoff)
        if attempts >= settings.JOB_MAX_ATTEMPTS:
            reason = (f"The worker importing this upload stopped responding {attempts} times (it may have run "
                      "out of memory or been restarted), so it was not tried again. Upload the zip again; if "
                      "it keeps failing, tell your administrator.")
            if same.update(status=DatasetVersion.Status.FAILED, error=reason,
                           report={"errors": [reason], "warnings": [], "skipped": [], "skipped_total": 0}):
                report.failed.append(version_id)
                storage_delete_tree(version_files_prefix(version_id))  # the images of the dead attempts
                transaction.on_commit(lambda v=version_id: _upload_delete(v))
        else:
            with transaction.atomic():
                if same.update(heartbeat_at=None):
                    report.requeued.append(version_id)
                    ingestion_send_after_commit(version_id)


def _resend_lost(now, queue: str) -> list[int]:
    """Waiting versions whose task is in no queue: sent while the broker was down, or lost with it.
    Only versions waiting for JOB_RESEND_AFTER_SECONDS are looked at, so a message on its way is not
    doubled (a double would be harmless anyway: only one delivery can claim)."""
    from webapp.core.broker import ids_with_a_message

    cutoff = now - timedelta(seconds=settings.JOB_RESEND_AFTER_SECONDS)
    waiting = list(DatasetVersion.objects.filter(status=DatasetVersion.Status.INGESTING, heartbeat_at__isnull=True,
                                                 created_at__lt=cutoff)
                   .exclude(sent_at__gte=cutoff).order_by("created_at", "pk").values_list("pk", flat=True))
    present = ids_with_a_message({INGEST_TASK, DEMO_TASK}, queue) if waiting else None
    if present is None:  # nothing waiting, or the broker cannot be read: conclude nothing
        return []
    resent = [version_id for version_id in waiting if version_id not in present]
    for version_id in resent:
        ingestion_send_after_commit(version_id)
    return resent
