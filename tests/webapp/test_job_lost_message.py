"""A queued job whose broker message is gone (Redis restarted without persistence, or emptied) is
found by the reaper and sent again, so it runs instead of showing "queued" forever; a job whose
message is still waiting, or that was queued a moment ago, is left alone."""

from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from tests.conftest import wait_for
from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.core.broker import _job_id, tuning_jobs_with_a_message
from webapp.jobs.models import Job
from webapp.worker.reaper import jobs_resend_lost_messages
from webapp.worker.tasks import run_tuning_job


def queued_long_ago(job: Job, settings) -> None:
    Job.objects.filter(pk=job.pk).update(
        queued_at=timezone.now() - timedelta(seconds=settings.JOB_RESEND_AFTER_SECONDS + 1))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_queued_job_whose_message_was_lost_is_sent_again_and_runs(celery_worker, make_user, settings):
    alice = make_user("alice", workspace="Press line")
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=4), user=alice, budget=60)
    queued_long_ago(job, settings)  # a row with no message behind it, as after a Redis restart

    assert jobs_resend_lost_messages() == [job.pk]
    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=120, message="the job to run")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error + job.log
    assert "its message was missing from the broker" in job.log and job.attempts == 1


@pytest.mark.django_db
def test_a_queued_job_whose_message_is_waiting_is_left_alone(make_user, settings):
    queue = "tuning-resend-test"  # no worker serves it, so the message stays put
    job = make_runnable_job(make_ready_version("Press line", per_class=4))
    queued_long_ago(job, settings)
    run_tuning_job.apply_async(args=[job.pk], queue=queue)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.lpush(queue, b"not a message")  # whatever else sits there must not stop the scan
    try:
        assert job.pk in tuning_jobs_with_a_message(queue)  # beside any unacknowledged ones of other tests
        assert jobs_resend_lost_messages(queue=queue) == []
    finally:
        broker.delete(queue)


@pytest.mark.django_db
def test_a_job_queued_a_moment_ago_is_not_looked_at(make_user, django_capture_on_commit_callbacks):
    make_runnable_job(make_ready_version("Press line", per_class=4))  # its message may still be on its way
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert jobs_resend_lost_messages() == []
    assert not callbacks


@pytest.mark.django_db(transaction=True)
def test_lost_messages_are_sent_again_oldest_first(make_user, settings, monkeypatch):
    """The queue positions on the job pages count from the oldest queued job: the broker must serve
    the resent messages in that order too."""
    queue = "tuning-resend-order-test"  # no worker serves it: the messages stay where they were put
    version = make_ready_version("Press line", per_class=4)
    jobs = [make_runnable_job(version) for _ in range(3)]
    for age, job in zip([300, 200, 100], jobs):  # jobs[0] was queued first
        Job.objects.filter(pk=job.pk).update(
            queued_at=timezone.now() - timedelta(seconds=settings.JOB_RESEND_AFTER_SECONDS + age))
    monkeypatch.setitem(settings.CELERY_TASK_ROUTES, "webapp.jobs.tasks.run_tuning_job", {"queue": queue})
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        assert jobs_resend_lost_messages(queue=queue) == [job.pk for job in jobs]
        served = [_job_id(raw) for raw in reversed(broker.lrange(queue, 0, -1))]  # a worker pops from the tail
        assert served == [job.pk for job in jobs]
    finally:
        broker.delete(queue)
