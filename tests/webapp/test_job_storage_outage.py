"""The file storage away for a while (here the real media folder made unwritable) costs a running job
nothing: checkpoints are skipped while it is away, the final save waits for it with growing pauses,
and the job completes on its first attempt with its adapter. Nothing is requeued, no attempt is spent.

The test runs as root, for whom permission bits do not stop a write; the immutable flag (chattr +i) does."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import wait_for
from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.adapters.models import AdapterVersion
from webapp.jobs.models import Job
from webapp.worker.tasks import run_tuning_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

QUEUE = "tuning-storage-outage-test"


def _immutable(root: Path, on: bool) -> None:
    """Every folder under the media root refuses new files (or accepts them again)."""
    folders = [str(p) for p in [root, *root.rglob("*")] if p.is_dir() and not p.is_symlink()]
    subprocess.run(["chattr", "+i" if on else "-i", *folders], check=True, capture_output=True)


@pytest.fixture
def storage_outage():
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr to make the media folder unwritable")
    root = Path(settings.MEDIA_ROOT)

    class Outage:
        @staticmethod
        def begin() -> None:
            _immutable(root, True)

        @staticmethod
        def end() -> None:
            _immutable(root, False)

    yield Outage
    Outage.end()


def test_a_storage_outage_is_waited_out_and_costs_no_attempt(alice, start_worker, jobs_hold, storage_outage):
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=6), user=alice, budget=600)
    start_worker(queues=QUEUE, extra_env={"JOB_OUTAGE_RETRY_SECONDS": "600", "JOB_OUTAGE_FIRST_WAIT_SECONDS": "0.5"})
    run_tuning_job.apply_async(args=[job.pk], queue=QUEUE)
    wait_for(lambda: (j := Job.objects.get(pk=job.pk)).status == Job.Status.RUNNING and j.checkpoint,
             timeout=180, message="a running job with a checkpoint")

    storage_outage.begin()
    try:
        # Saves during the outage are skipped, and the job log says so; the job stays on its attempt.
        wait_for(lambda: "a checkpoint could not be saved: the file storage" in (j := Job.objects.get(pk=job.pk)).log
                 or j.status != Job.Status.RUNNING, timeout=120, message="a skipped checkpoint")
        assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING, Job.objects.get(pk=job.pk).log
        jobs_hold.release()  # the tuner ends now, and its adapter meets the storage still away
        wait_for(lambda: ("could not be stored yet: the file storage is not answering"
                          in (j := Job.objects.get(pk=job.pk)).log or j.status != Job.Status.RUNNING),
                 timeout=180, message="the final save to wait")
    finally:
        storage_outage.end()

    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=180, message="the job to finish")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED and job.attempts == 1, job.error + job.log
    assert "requeued" not in job.log.lower()
    assert AdapterVersion.objects.filter(job=job).count() == 1
