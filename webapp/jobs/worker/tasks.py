"""Celery entry points; thin on purpose. The message carries the job id only: the row says the rest."""

from celery import shared_task
from django.conf import settings

from webapp.jobs.worker.execution import job_execute
from webapp.jobs.worker.reaper import jobs_requeue_stale, jobs_resend_lost_messages


@shared_task(name="webapp.jobs.tasks.run_tuning_job", bind=True, acks_late=True,
             soft_time_limit=settings.JOB_MAX_SECONDS)
def run_tuning_job(self, job_id: int) -> str:
    return job_execute(job_id=job_id, worker=self.request.hostname or "worker")


@shared_task(name="webapp.jobs.tasks.requeue_stale_jobs")
def requeue_stale_jobs() -> dict:
    report = jobs_requeue_stale()
    return {"requeued": report.requeued, "failed": report.failed, "cancelled": report.cancelled,
            "resent": jobs_resend_lost_messages()}
