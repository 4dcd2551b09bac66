"""A queued job that no live worker can take says so on its page and in the API,
tried with real worker processes: with only a `default` worker running, the job is not shown as
"Queued, position 1" forever; once a worker on its queue starts, the job runs.

The job's queue is one of this test's own, so the shared test worker (which serves `tuning`) can
neither take the job nor count as a worker for it."""

import pytest

from tests.conftest import wait_for
from tests.webapp.factories import csrf_client, make_api_token, make_ready_version, make_runnable_job
from webapp.core.broker import TUNING_TASK
from webapp.jobs.health import live_workers_by_queue
from webapp.jobs.models import Job, WorkerStatus
from webapp.jobs.selectors import NO_WORKER_TEXT
from webapp.worker.tasks import run_tuning_job

QUEUE = "tuning-liveness-test"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_queued_job_with_no_worker_for_its_queue_says_so_until_one_starts(alice, start_worker, settings):
    settings.CELERY_TASK_ROUTES = {TUNING_TASK: {"queue": QUEUE}}
    default_only = start_worker(queues="default")
    wait_for(lambda: WorkerStatus.objects.filter(hostname=default_only.name, queues=",default,").exists(),
             timeout=30, message="the default worker's check-in with its queues")
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=4), user=alice, budget=60)
    run_tuning_job.apply_async(args=[job.pk], queue=QUEUE)

    page = csrf_client(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert NO_WORKER_TEXT in page and "position 1" not in page
    assert NO_WORKER_TEXT in csrf_client(alice).get("/jobs/").content.decode()
    api = csrf_client(alice).get(f"/api/v1/jobs/{job.pk}/", HTTP_AUTHORIZATION=f"Bearer {make_api_token(alice)}").json()
    assert api["no_worker"] is True and api["status_text"] == NO_WORKER_TEXT
    assert live_workers_by_queue()[QUEUE] == [] and default_only.name in live_workers_by_queue()["default"]

    tuning_worker = start_worker(queues=QUEUE)
    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=180, message="the job to run")
    assert Job.objects.get(pk=job.pk).status == Job.Status.COMPLETED
    assert tuning_worker.name in live_workers_by_queue()[QUEUE]

    tuning_worker.stop()  # a worker that stops says it serves nothing any more
    assert WorkerStatus.objects.get(hostname=tuning_worker.name).queues == ""
