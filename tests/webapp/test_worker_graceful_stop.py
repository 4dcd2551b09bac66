"""A tuning worker stopped gracefully (SIGTERM) hands its running job back at once: the tuner stops,
saves a checkpoint, the job goes back to the queue at once (no reaper runs in these tests, so nothing
waits for the stale timeout) and the worker exits; the next worker resumes it from that checkpoint, with every metric
point once. Both ways a site sends SIGTERM are tried: to the main process only (`docker stop`), and
to the whole process group (systemd, Ctrl-C)."""

import os
import signal

import pytest

from tests.conftest import wait_for
from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.jobs.models import Job, MetricPoint
from webapp.worker.tasks import run_tuning_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

QUEUE = "tuning-graceful-stop-test"


@pytest.mark.parametrize("whole_group", [False, True], ids=["main-process", "process-group"])
def test_sigterm_hands_the_job_back_at_once_and_it_resumes_elsewhere(alice, start_worker, jobs_hold, whole_group):
    version = make_ready_version("Press line", user=alice, per_class=6)
    job = make_runnable_job(version, user=alice, budget=1500)
    stopping = start_worker(queues=QUEUE)  # only this worker gets the first delivery
    run_tuning_job.apply_async(args=[job.pk], queue=QUEUE)
    wait_for(lambda: (j := Job.objects.get(pk=job.pk)).status == Job.Status.RUNNING and j.checkpoint
             and j.queries_used >= 100, timeout=180, message="a running job with a checkpoint")

    if whole_group:
        os.killpg(stopping.proc.pid, signal.SIGTERM)
    else:
        os.kill(stopping.proc.pid, signal.SIGTERM)
    # Handed back with a line in its log (a worker on `tuning` may claim it again at once, so the
    # QUEUED state itself can be too brief to see).
    handed = wait_for(lambda: "handed back at" in (j := Job.objects.get(pk=job.pk)).log and j, timeout=60,
                      message="the job to be handed back")
    assert stopping.proc.wait(timeout=60) == 0  # the warm shutdown ends once the job is handed back
    handed_at = int(handed.log.split("handed back at ")[1].split()[0].replace(",", ""))
    assert handed_at > 0

    jobs_hold.release()
    start_worker(queues="tuning")  # where a handed-back job goes, like any requeued one
    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=240, message="the resumed job to finish")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED and job.attempts == 2, job.error + job.log
    # The checkpoint was saved as the tuner stopped: the next attempt goes on from there, nothing done twice.
    assert f"resumed from a checkpoint at {handed_at} queries" in job.log, job.log
    points = list(MetricPoint.objects.filter(job=job).order_by("seq").values_list("seq", "queries", "step"))
    assert points[-1][1] > handed_at  # the curve goes on past the hand-back
    assert [seq for seq, *_ in points] == list(range(1, len(points) + 1))
    assert all(a[1:] < b[1:] for a, b in zip(points, points[1:]))  # no point twice, one monotone curve
