"""Which queue a tuning job's message goes to, and sending it. Every tuning worker consumes `tuning`; GPU
workers also consume the GPU queue (`TUNING_GPU_QUEUE`, `tuning-gpu`), so a job that asks for a GPU is only
ever taken by a GPU worker, while the others go to whichever worker, GPU or CPU, is free first."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from webapp.core.broker import TUNING_TASK, tuning_queue

log = logging.getLogger(__name__)


def job_queue(*, needs_gpu: bool) -> str:
    return settings.TUNING_GPU_QUEUE if needs_gpu else tuning_queue()


def job_send_after_commit(job_id: int, *, job=None) -> None:
    """Send the job's message once committed. With the broker away the row stays QUEUED (it is saved,
    so a retrying client must not create it again) and the reaper's resend pass sends it once the
    broker is back; `job.sent_to_broker` tells the caller which happened.

    Sent by task name: the web side never imports the worker's task module (webapp/worker/tasks.py),
    so the worker runtime stays a layer above the web side."""
    from webapp.celery import app
    from webapp.jobs.models import Job

    def send() -> None:
        try:
            needs_gpu = Job.objects.filter(pk=job_id).values_list("needs_gpu", flat=True).first()
            app.send_task(TUNING_TASK, args=[job_id], queue=job_queue(needs_gpu=bool(needs_gpu)))
        except Exception:  # noqa: BLE001 - kombu's connection errors vary with the transport
            log.warning("job %s: broker unreachable, its message will be sent again later", job_id, exc_info=True)
            if job is not None:
                job.sent_to_broker = False

    transaction.on_commit(send)
