"""E-mail: the engineer who launched a job gets an e-mail through Django's e-mail
backend when it completes or fails (worker, reaper), with the summary, the report's first lines and
links; a cancelled job, a user without an address or a mail server that is down change nothing else."""

from types import SimpleNamespace

import pytest
from django.core import mail

from tests.webapp.factories import EVALUATION, make_finished_job, write_adapter_dir
from webapp.jobs.models import Job
from webapp.worker.fence import Fence, job_fail, job_finish
from webapp.worker.notifications import job_notify
from webapp.worker.reaper import jobs_requeue_stale

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_user):
    user = make_user("alice", workspace="Press line")
    user.email = "alice@factory.example"
    user.save()
    return user


def test_a_completed_job_mails_its_summary_first_lines_and_links(alice, settings, tmp_path,
                                                                 django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://tuning.factory.example/"
    job = make_finished_job("Press line", user=alice, status=Job.Status.RUNNING, attempts=1, name="scratches run")
    result = SimpleNamespace(queries_used=1980, best_val_acc=0.9, peak_memory_bytes=1, stopped=False,
                             zero_shot_val_balanced_acc=0.5, best_val_balanced_acc=0.8, leaderboard=None)
    with django_capture_on_commit_callbacks(execute=True):
        job_finish(fence=Fence(job.pk, 1), result=result, zero_shot=EVALUATION["zero_shot"], tuned=EVALUATION["tuned"],
                   class_names=EVALUATION["class_names"], adapter_dir=write_adapter_dir(tmp_path / "a"),
                   worker_seconds=1)
    [message] = mail.outbox
    assert message.to == ["alice@factory.example"] and message.subject == "[Tuning] scratches run completed"
    assert message.body.startswith("Tuning raised accuracy from 61% to 88%")
    assert f"https://tuning.factory.example/reports/jobs/{job.pk}/" in message.body
    assert f"https://tuning.factory.example/jobs/{job.pk}/" in message.body


def test_a_failed_job_mails_the_reason(alice, django_capture_on_commit_callbacks):
    job = make_finished_job("Press line", user=alice, status=Job.Status.RUNNING, attempts=1, name="run 2")
    with django_capture_on_commit_callbacks(execute=True):
        assert job_fail(fence=Fence(job.pk, 1), reason="The worker ran out of memory.", detail="trace")
    [message] = mail.outbox
    assert message.subject == "[Tuning] run 2 failed" and "The worker ran out of memory." in message.body
    assert "/reports/" not in message.body


def test_a_job_failed_by_the_reaper_mails_too(alice, settings, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    job = make_finished_job("Press line", user=alice, status=Job.Status.RUNNING, attempts=settings.JOB_MAX_ATTEMPTS,
                   heartbeat_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_requeue_stale().failed == [job.pk]
    assert len(mail.outbox) == 1 and "stopped responding" in mail.outbox[0].body


def test_no_mail_for_a_cancelled_job_or_a_user_without_an_address(alice, make_user):
    assert not job_notify(make_finished_job("Press line", user=alice, status=Job.Status.CANCELLED).pk)
    assert not job_notify(make_finished_job("Press line", user=make_user("bert", workspace="Press line")).pk)
    assert mail.outbox == []


def test_a_mail_server_that_is_down_does_not_raise(alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nothing listens there
    assert job_notify(make_finished_job("Press line", user=alice).pk) is False
