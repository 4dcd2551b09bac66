"""A task sent through the real Redis broker runs in a real worker process and writes to the database."""

import pytest

from tests.conftest import wait_for
from webapp.jobs.models import WorkerStatus
from webapp.worker.tasks import worker_checkin

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_task_runs_in_worker_process_and_its_effect_is_in_the_database(celery_worker):
    worker_checkin.delay()  # not eager: goes to Redis, is consumed by the subprocess
    status = wait_for(lambda: WorkerStatus.objects.filter(hostname=celery_worker.name).first(), timeout=30,
                      message="the worker's check-in row")
    assert status.kind == "cpu"
    assert celery_worker.proc.poll() is None


def test_healthz_reports_database_broker_and_worker_to_staff(admin_client, celery_worker):
    client = admin_client
    first = client.get("/healthz").json()
    assert first["ok"] and first["broker"] == "Redis answers"
    body = wait_for(lambda: celery_worker.name in (b := client.get("/healthz").json())["queues"]["tuning"] and b,
                    timeout=30, message="the worker on /healthz, under the queue it serves")
    assert body["database"] in {"sqlite", "postgresql"}
    assert celery_worker.name in body["workers"] and celery_worker.name in body["queues"]["default"]
