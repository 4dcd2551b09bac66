"""Short tasks that prove the whole path works: web -> Redis -> worker -> database."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from webapp.jobs.models import WorkerStatus


@shared_task(name="webapp.core.tasks.worker_checkin", bind=True)
def worker_checkin(self) -> str:
    """Record the sign of life of the worker that took this task (its own check-in thread also beats,
    with the queues it consumes: webapp/core/checkin.py)."""
    hostname = self.request.hostname or "worker"
    WorkerStatus.objects.update_or_create(
        hostname=hostname, defaults={"last_seen": timezone.now(), "kind": settings.WORKER_KIND}
    )
    return hostname


@shared_task(name="webapp.core.tasks.clean_up_leftovers")
def clean_up_leftovers() -> dict:
    from dataclasses import asdict

    from webapp.core.cleanup import clean_up_leftovers as clean

    return asdict(clean())
