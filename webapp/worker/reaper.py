"""The reaper: a periodic pass (webapp/worker/tasks.py, Celery beat) that requeues or fails the jobs
of workers that went silent, and sends again the messages a broker lost."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.core.broker import tuning_jobs_with_a_message, tuning_queues
from webapp.jobs.models import Job
from webapp.jobs.queues import job_send_after_commit
from webapp.worker.checkpoints import checkpoint_delete
from webapp.worker.fence import append_to_log, counted_attempts
from webapp.worker.notifications import job_notify_after_commit

log = logging.getLogger(__name__)


def _delete_checkpoint_after_commit(job_id: int) -> None:
    """The row that finished the job already names no checkpoint; its files go once that is committed."""
    transaction.on_commit(lambda: checkpoint_delete(job_id))


@dataclass
class ReaperReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


def jobs_resend_lost_messages(*, now=None, queue: str | None = None) -> list[int]:
    """Queued jobs whose message is no longer in the broker (a Redis restarted without persistence,
    or emptied) get it sent again, with a line in their log, so that no job shows "queued" with
    nothing behind it. Only jobs queued for JOB_RESEND_AFTER_SECONDS are looked at, so a message on
    its way is not doubled; a double would be harmless anyway, since only one delivery can claim."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_RESEND_AFTER_SECONDS)
    # Oldest first, as they were first sent: the broker then serves them in the order the queue positions show.
    waiting = list(Job.objects.filter(status=Job.Status.QUEUED, queued_at__lt=cutoff).order_by("queued_at", "pk")
                   .values_list("pk", flat=True))
    found = [tuning_jobs_with_a_message(name)
             for name in ([queue] if queue else tuning_queues())] if waiting else [None]
    if None in found:  # nothing waiting, or the broker cannot be read: conclude nothing
        return []
    present = set().union(*found)
    note = (f"[{now:%Y-%m-%d %H:%M:%S}] its message was missing from the broker (was Redis restarted or "
            "emptied?); it was sent again.\n")
    resent = []
    for job_id in waiting:
        if job_id in present:
            continue
        with transaction.atomic():
            if Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(log=append_to_log(note)):
                resent.append(job_id)
                job_send_after_commit(job_id)
    if resent:
        log.warning("queued jobs without a broker message, sent again: %s", resent)
    return resent


def gave_up_reason(counted: int, handbacks: int) -> str:
    """Why a job was not started again, saying what happened: the attempts that count (silences and
    errors) are numbered; hand-backs by workers shutting down are free, and named as such."""
    free = ""
    if handbacks:
        times = f"{handbacks} time{'s' if handbacks != 1 else ''}"
        free = f"; it was also handed back {times} by a worker shutting down, which does not count"
    return (f"The worker running this job stopped responding during attempt {counted} of "
            f"{settings.JOB_MAX_ATTEMPTS}{free}. The job was not started again. Check the workers (memory, power, "
            "logs) and launch the job again.")


def jobs_requeue_stale(*, now=None) -> ReaperReport:
    """Running jobs whose worker stopped sending heartbeats (killed, powered off, frozen): requeue them
    to resume from their last checkpoint, or fail them after JOB_MAX_ATTEMPTS, so that no job stays
    shown as running with no worker behind it."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    report = ReaperReport()
    stale = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).values_list(
        "pk", "attempts", "handbacks", "cancel_requested", "worker")
    for job_id, attempts, handbacks, cancel_requested, worker in stale:
        # Conditional on the same attempt still being stale: a heartbeat that arrives meanwhile wins.
        same = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, attempts=attempts, heartbeat_at__lt=cutoff)
        note = f"[{now:%Y-%m-%d %H:%M:%S}] worker {worker or '?'} stopped responding during attempt {attempts}.\n"
        counted = counted_attempts(attempts=attempts, handbacks=handbacks)
        if cancel_requested:
            if same.update(status=Job.Status.CANCELLED, finished_at=now, log=append_to_log(note), checkpoint="",
                           error="Cancelled. The worker stopped responding before it could save an adapter."):
                report.cancelled.append(job_id)
                _delete_checkpoint_after_commit(job_id)
        elif counted >= settings.JOB_MAX_ATTEMPTS:
            if same.update(status=Job.Status.FAILED, finished_at=now, error=gave_up_reason(counted, handbacks),
                           log=append_to_log(note), checkpoint=""):
                report.failed.append(job_id)
                _delete_checkpoint_after_commit(job_id)
                job_notify_after_commit(job_id)
        else:
            with transaction.atomic():
                if same.update(status=Job.Status.QUEUED, worker="",
                               log=append_to_log(note + "  Requeued; it resumes from its last checkpoint.\n")):
                    report.requeued.append(job_id)
                    job_send_after_commit(job_id)
    if report.requeued or report.failed or report.cancelled:
        log.warning("stale jobs: requeued %s, failed %s, cancelled %s", report.requeued, report.failed,
                    report.cancelled)
    return report
