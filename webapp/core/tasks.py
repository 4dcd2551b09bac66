"""Short tasks that prove the whole path works: web -> Redis -> worker -> database."""

import socket

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from webapp.jobs.models import WorkerStatus


@shared_task(name="webapp.core.tasks.worker_checkin")
def worker_checkin() -> str:
    """Record this worker's sign of life; the health page and run-time estimates read it."""
    hostname = socket.gethostname()
    WorkerStatus.objects.update_or_create(
        hostname=hostname, defaults={"last_seen": timezone.now(), "kind": settings.WORKER_KIND}
    )
    return hostname
