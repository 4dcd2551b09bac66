"""A temporary storage error (the shared folder or S3 away for a moment) does not fail a job for good:
the attempt is requeued with its checkpoint kept, and the next attempt, on a real worker, resumes
from it and completes."""

import errno

import pytest
from django.conf import settings as django_settings

from tests.conftest import wait_for
from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.adapters.models import AdapterVersion
from webapp.jobs.models import Job
from webapp.jobs.selectors import job_live_payload
from webapp.jobs.services import job_cancel
from webapp.worker.checkpoints import StorageCheckpoint
from webapp.worker.execution import job_execute

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_storage_hiccup_requeues_the_job_which_resumes_from_its_checkpoint(start_worker, alice, monkeypatch):
    job = _requeued_after_a_storage_hiccup(alice, monkeypatch, queue="tuning-transient-test")
    assert "Input/output error" in job.log and not job.error

    start_worker(queues="tuning-transient-test")
    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=240, message="the retried job to finish")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED and job.attempts == 2, job.error + job.log
    assert "resumed from a checkpoint" in job.log and job.checkpoint == ""
    assert AdapterVersion.objects.filter(job=job).count() == 1


def test_cancelling_a_requeued_job_keeps_the_best_adapter_of_its_checkpoint(start_worker, alice, monkeypatch):
    """Cancelled while queued again, the job must not lose what it tuned as "cancelled before it
    started": the next worker resumes from the checkpoint and stops at once."""
    job = _requeued_after_a_storage_hiccup(alice, monkeypatch, queue="tuning-cancel-requeued-test")
    job = job_cancel(job=job, user=alice)
    assert job.status == Job.Status.QUEUED and job.cancel_requested and job.checkpoint
    assert job_live_payload(job)["status_text"].startswith("Stopping: the next free worker keeps the best adapter")

    start_worker(queues="tuning-cancel-requeued-test")
    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=240, message="the cancelled job to stop")
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and "best adapter found until then was saved" in job.error, job.log
    assert job.checkpoint == "" and job.queries_used > 0
    assert AdapterVersion.objects.filter(job=job).count() == 1


def _requeued_after_a_storage_hiccup(alice, monkeypatch, *, queue: str) -> Job:
    """A job whose first attempt saved a checkpoint, then met a storage error and was queued again.
    The retry goes to `queue`, where only the test's own worker will listen (one per test: workers
    live until the end of the session)."""
    monkeypatch.setitem(django_settings.CELERY_TASK_ROUTES, "webapp.jobs.tasks.run_tuning_job", {"queue": queue})
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=6), user=alice, budget=600)
    real_save = StorageCheckpoint.save

    def second_save_fails(self, state):
        if self.fence.attempt == 1 and Job.objects.get(pk=job.pk).checkpoint:
            raise OSError(errno.EIO, "Input/output error")  # storage away, after a first checkpoint
        real_save(self, state)

    monkeypatch.setattr(StorageCheckpoint, "save", second_save_fails)
    monkeypatch.setattr(StorageCheckpoint, "__init__", _no_spacing(StorageCheckpoint.__init__))
    assert job_execute(job_id=job.pk, worker="in-process@test") == "requeued after a transient error"
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.checkpoint and job.attempts == 1, job.error + job.log
    return job


def _no_spacing(init):
    """Every checkpoint the tuner offers is saved, so the second one comes soon on any machine."""

    def wrapped(self, fence, **kwargs):
        init(self, fence, **{**kwargs, "min_interval_s": 0})

    return wrapped
