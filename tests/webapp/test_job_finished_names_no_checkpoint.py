"""A finished job never names a checkpoint: the UPDATE that finishes it (completed, cancelled, failed,
by its worker or by the reaper) also clears the pointer, and the files go afterwards. A reader that
sees the job finished therefore never sees a checkpoint, however loaded the machine is."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.conftest import wait_for
from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.jobs.models import Job
from webapp.jobs.services import job_cancel
from webapp.worker import execution
from webapp.worker.checkpoints import checkpoint_prefix
from webapp.worker.execution import job_execute
from webapp.worker.fence import job_claim, job_fail
from webapp.worker.reaper import jobs_requeue_stale
from webapp.worker.tasks import run_tuning_job

pytestmark = pytest.mark.django_db(transaction=True)


def checkpoint_files(job: Job) -> list[str]:
    folder, stem = checkpoint_prefix(job.pk).rsplit("/", 1)
    try:
        return [name for name in default_storage.listdir(folder)[1] if name.startswith(stem)]
    except FileNotFoundError:
        return []


def test_the_row_that_completes_a_job_already_names_no_checkpoint(alice, monkeypatch):
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=6), user=alice, budget=300)
    seen = {}

    def look_then_delete(job_id):  # runs right after the job was finished: what does a reader see now?
        seen["row"] = Job.objects.values_list("status", "checkpoint").get(pk=job_id)
        seen["files"] = checkpoint_files(job)
        real_delete(job_id)

    real_delete = execution.checkpoint_delete
    monkeypatch.setattr(execution, "checkpoint_delete", look_then_delete)
    assert job_execute(job_id=job.pk, worker="in-process@test") == Job.Status.COMPLETED
    assert seen["files"], "the run saved no checkpoint, so this test proves nothing"
    assert seen["row"] == (Job.Status.COMPLETED, "")
    assert checkpoint_files(job) == []


def test_a_failed_attempt_clears_the_pointer_in_the_failing_update(alice):
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=4), user=alice)
    fence = job_claim(job_id=job.pk, worker="w1@host")
    fence.update(checkpoint=f"{checkpoint_prefix(job.pk)}-a1-000001.json")
    assert job_fail(fence=fence, reason="broken", detail="trace")
    assert Job.objects.values_list("status", "checkpoint").get(pk=job.pk) == (Job.Status.FAILED, "")


@pytest.mark.worker
def test_a_killed_job_cancelled_by_the_reaper_keeps_no_checkpoint(start_worker, alice, jobs_hold):
    """Its worker died and a cancel was asked for: nothing will resume it, so neither its pointer nor
    its files may stay behind."""
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=6), user=alice, budget=5000)
    doomed = start_worker(queues="tuning-checkpoint-test")  # only this worker gets the delivery
    run_tuning_job.apply_async(args=[job.pk], queue="tuning-checkpoint-test")
    wait_for(lambda: Job.objects.get(pk=job.pk).checkpoint, timeout=180, message="a first checkpoint")
    doomed.kill()  # SIGKILL, like a power cut
    job_cancel(job=job, user=alice)  # asks a worker that is gone to stop
    wait_for(lambda: jobs_requeue_stale().cancelled == [job.pk], timeout=60, message="the reaper to end it")
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.checkpoint == ""
    assert checkpoint_files(job) == []


def test_a_job_failed_by_the_reaper_after_its_last_attempt_keeps_no_checkpoint(alice, settings):
    settings.JOB_MAX_ATTEMPTS = 1
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=4), user=alice)
    fence = job_claim(job_id=job.pk, worker="w1@host")
    name = default_storage.save(f"{checkpoint_prefix(job.pk)}-a1-000001.json", ContentFile(b"{}"))
    fence.update(checkpoint=name, heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS + 1))
    assert jobs_requeue_stale().failed == [job.pk]
    assert Job.objects.values_list("status", "checkpoint").get(pk=job.pk) == (Job.Status.FAILED, "")
    assert checkpoint_files(job) == []
