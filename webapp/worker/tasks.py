"""Celery entry points of the workers; thin on purpose. A message carries a row id at most: the row says the rest.

Task names keep the module paths they were first registered under (webapp.jobs.tasks, webapp.core.tasks):
queued messages and the beat schedule name them, and the web side sends them by name.
"""

from dataclasses import asdict

from celery import shared_task
from django.conf import settings

from webapp.worker.cleanup import clean_up_leftovers as clean
from webapp.worker.execution import job_execute
from webapp.worker.reaper import jobs_requeue_stale, jobs_resend_lost_messages
from webapp.worker.status import worker_status_seen


@shared_task(name="webapp.jobs.tasks.run_tuning_job", bind=True, acks_late=True,
             soft_time_limit=settings.JOB_MAX_SECONDS)
def run_tuning_job(self, job_id: int) -> str:
    return job_execute(job_id=job_id, worker=self.request.hostname or "worker")


@shared_task(name="webapp.jobs.tasks.requeue_stale_jobs")
def requeue_stale_jobs() -> dict:
    report = jobs_requeue_stale()
    return {"requeued": report.requeued, "failed": report.failed, "cancelled": report.cancelled,
            "resent": jobs_resend_lost_messages()}


@shared_task(name="webapp.core.tasks.worker_checkin", bind=True)
def worker_checkin(self) -> str:
    """Proves the whole path works (web -> Redis -> worker -> database): records the sign of life of the
    worker that took this task (its own check-in thread also beats, with the queues it consumes:
    webapp/worker/checkin.py)."""
    hostname = self.request.hostname or "worker"
    worker_status_seen(hostname=hostname)
    return hostname


@shared_task(name="webapp.core.tasks.clean_up_leftovers")
def clean_up_leftovers() -> dict:
    return asdict(clean())
