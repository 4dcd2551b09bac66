"""The row is the source of truth: one delivery claims a job, an attempt that lost its job can no
longer write, and the reaper requeues (or fails) jobs whose worker went silent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.jobs.models import Job
from webapp.worker.fence import job_claim, job_hand_back
from webapp.worker.reaper import jobs_requeue_stale

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(make_user):
    return make_runnable_job(make_ready_version("Press line", per_class=4))


def test_only_the_first_delivery_claims_the_job(job):
    first = job_claim(job_id=job.pk, worker="w1@host")
    second = job_claim(job_id=job.pk, worker="w2@host")
    assert first is not None and first.attempt == 1 and second is None
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.worker == "w1@host" and job.attempts == 1
    assert job.heartbeat_at is not None and job.started_at is not None


def test_an_attempt_that_lost_its_job_can_no_longer_write(job, settings):
    old = job_claim(job_id=job.pk, worker="w1@host")
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS + 1))
    jobs_requeue_stale()
    new = job_claim(job_id=job.pk, worker="w2@host")
    assert new.attempt == 2
    assert not old.update(queries_used=999) and old.lost
    assert new.update(queries_used=10)
    job.refresh_from_db()
    assert job.queries_used == 10 and job.worker == "w2@host"


def stale(job, settings, attempts=1, **fields):
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, attempts=attempts, worker="w1@host",
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS + 1), **fields)


def test_reaper_requeues_a_silent_job_and_sends_it_again(job, settings, django_capture_on_commit_callbacks):
    stale(job, settings)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = jobs_requeue_stale()
    assert report.requeued == [job.pk]
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.worker == "" and job.attempts == 1
    assert "stopped responding during attempt 1" in job.log


def test_reaper_leaves_a_job_with_a_fresh_heartbeat_alone(job):
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, attempts=1, heartbeat_at=timezone.now())
    assert jobs_requeue_stale().requeued == []
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING


def test_reaper_fails_a_job_whose_worker_stopped_responding_too_often(job, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    stale(job, settings, attempts=3)
    assert jobs_requeue_stale().failed == [job.pk]
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.finished_at is not None
    assert job.error.startswith("The worker running this job stopped responding during attempt 3 of 3.")


def test_hand_backs_are_free_and_the_reason_says_what_happened(job, settings):
    """Two graceful hand-backs (SIGTERM) and one silence (SIGKILL): the job is requeued, not failed, and
    when it does give up the reason counts the silences and names the hand-backs apart."""
    settings.JOB_MAX_ATTEMPTS = 3
    for worker in ("w1@host", "w2@host"):
        assert job_hand_back(fence=job_claim(job_id=job.pk, worker=worker), queries=100)
    job_claim(job_id=job.pk, worker="w3@host")
    stale(job, settings, attempts=3)
    assert jobs_requeue_stale().requeued == [job.pk]  # it stopped responding once: two attempts remain

    for attempt in (4, 5):
        job_claim(job_id=job.pk, worker="w4@host")
        stale(job, settings, attempts=attempt)
        jobs_requeue_stale()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and (job.attempts, job.handbacks) == (5, 2)
    assert job.error.startswith("The worker running this job stopped responding during attempt 3 of 3; it was also "
                                "handed back 2 times by a worker shutting down, which does not count."), job.error


def test_reaper_ends_a_silent_job_that_was_being_cancelled(job, settings):
    stale(job, settings, cancel_requested=True)
    assert jobs_requeue_stale().cancelled == [job.pk]
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and "stopped responding" in job.error


def test_reaper_task_is_the_beat_entry(job, settings):
    from webapp.worker.tasks import requeue_stale_jobs

    stale(job, settings)
    assert requeue_stale_jobs() == {"requeued": [job.pk], "failed": [], "cancelled": [], "resent": []}
