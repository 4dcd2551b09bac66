"""The pages tell the truth soon when a worker is gone: an import whose worker was killed says so after
a few missed heartbeats, without waiting for the scheduler (which no test here runs); a queued job whose
message the broker lost says so instead of "it should start now". Real worker processes, real Redis."""

import pytest

from tests.conftest import wait_for
from tests.webapp.test_dataset_ingest_recovery import QUEUE, own_queue, slow_zip, upload  # noqa: F401 (a fixture)
from webapp.datasets.models import DatasetVersion

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.usefixtures("own_queue")  # it sends the import to QUEUE
def test_an_import_whose_worker_was_killed_says_so_before_the_scheduler_acts(alice, start_worker):
    worker = start_worker(queues=QUEUE)
    client, response = upload(alice, slow_zip(per_class=60))
    assert response.status_code == 302
    version = DatasetVersion.objects.get()
    wait_for(lambda: DatasetVersion.objects.get(pk=version.pk).progress > 0, timeout=120, interval=0.05,
             message="the import to start")
    worker.kill()  # SIGKILL, like a power cut: no more heartbeats

    status_url = f"/datasets/versions/{version.pk}/status.json"
    said = wait_for(lambda: "has not reported for" in (s := client.get(status_url).json())["status_text"] and s,
                    timeout=30, message="the status to say the worker is quiet")
    assert said["worker_quiet_seconds"] and not said["done"]
    assert DatasetVersion.objects.get(pk=version.pk).status == DatasetVersion.Status.INGESTING  # nothing reaped it


def test_a_queued_job_whose_message_the_broker_lost_says_so(alice, settings, monkeypatch):
    import datetime as dt

    import redis
    from django.test import Client
    from django.utils import timezone

    from tests.webapp.factories import make_ready_version, make_runnable_job
    from webapp.celery import app
    from webapp.core.broker import TUNING_TASK
    from webapp.jobs.models import Job, WorkerStatus

    queue = "tuning-lost-message-test"  # no worker consumes it: a message sent there stays put
    monkeypatch.setitem(settings.CELERY_TASK_ROUTES, TUNING_TASK, {"queue": queue})
    WorkerStatus.objects.create(hostname="idle@host", last_seen=timezone.now(),
                                queues=f",{queue},")  # an idle worker: the job "should start now"
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=4), user=alice)
    Job.objects.filter(pk=job.pk).update(queued_at=timezone.now() - dt.timedelta(seconds=20))
    app.send_task(TUNING_TASK, args=[job.pk], queue=queue)
    client = Client()
    client.force_login(alice)
    try:
        waiting = client.get(f"/jobs/{job.pk}/metrics.json?after=0").json()
        assert "should start now" in waiting["status_text"] and not waiting.get("message_lost")

        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)  # as a Redis without persistence restarts
        lost = client.get(f"/jobs/{job.pk}/metrics.json?after=0").json()
        assert "should start now" not in lost["status_text"] and "lost its message" in lost["status_text"]
        assert "sent again within about" in lost["status_text"] and lost["message_lost"]
    finally:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)
