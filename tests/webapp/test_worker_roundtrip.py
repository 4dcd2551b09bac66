"""A task sent through the real Redis broker runs in a real worker process and writes to the database."""

import pytest

from tests.conftest import wait_for
from webapp.core.tasks import worker_checkin
from webapp.jobs.models import WorkerStatus

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_task_runs_in_worker_process_and_its_effect_is_in_the_database(celery_worker):
    assert not WorkerStatus.objects.exists()
    worker_checkin.delay()  # not eager: goes to Redis, is consumed by the subprocess
    status = wait_for(lambda: WorkerStatus.objects.first(), timeout=30, message="the worker's check-in row")
    assert status.kind == "cpu"
    assert celery_worker.proc.poll() is None


def test_healthz_reports_database_broker_and_worker(client, celery_worker):
    first = client.get("/healthz").json()
    assert first["ok"] and first["broker"] == "Redis answers"
    body = wait_for(lambda: (b := client.get("/healthz").json())["workers"] and b, timeout=30,
                    message="a live worker on /healthz")
    assert body["database"] in {"sqlite", "postgresql"}
