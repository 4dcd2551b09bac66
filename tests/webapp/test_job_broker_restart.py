"""Redis restarting in the middle of a job loses no metric and no result: points and outcome go to
the database, the running task does not depend on the broker, and the worker reconnects.

The test starts its own redis-server on a free port (with an append-only file, as a production
Redis would keep) and a worker that uses it as its broker, so the shared Redis is never touched."""

import shutil

import pytest
from celery import Celery

from tests.conftest import wait_for
from tests.webapp.factories import make_ready_version, make_runnable_job
from tests.webapp.servers import RedisServer
from webapp.adapters.models import AdapterVersion
from webapp.jobs.models import Job, MetricPoint

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server program"),
]


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_redis_restart_during_a_job_loses_no_metric_and_no_result(own_redis, start_worker, make_user, jobs_hold):
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", user=alice, per_class=6)
    job = make_runnable_job(version, user=alice, budget=1200)
    worker = start_worker(queues="tuning", extra_env={"CELERY_BROKER_URL": own_redis.url})
    sender = Celery("sender", broker=own_redis.url, set_as_current=False)  # shared tasks keep the main app
    sender.send_task("webapp.jobs.tasks.run_tuning_job", args=[job.pk], queue="tuning")

    wait_for(lambda: MetricPoint.objects.filter(job=job).count() >= 3, timeout=180, message="points before the outage")
    own_redis.stop()
    wait_for(lambda: "Connection to broker lost" in worker.log_path.read_text(errors="replace"), timeout=60,
             message="the worker to notice the broker is gone")  # while the job keeps running
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    own_redis.start()
    jobs_hold.release()

    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=240, message="the job to finish")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error + job.log
    assert job.attempts == 1 and job.tuned_accuracy is not None
    points = list(MetricPoint.objects.filter(job=job).order_by("seq").values_list("seq", "queries"))
    assert [seq for seq, _ in points] == list(range(1, len(points) + 1))  # not one point missing
    assert points[-1][1] == job.queries_used
    assert AdapterVersion.objects.filter(job=job).count() == 1

    # The worker is connected again: a second job sent through the restarted broker runs too.
    second = make_runnable_job(version, user=alice, method="zeroshot", budget=1)
    sender.send_task("webapp.jobs.tasks.run_tuning_job", args=[second.pk], queue="tuning")
    wait_for(lambda: Job.objects.get(pk=second.pk).is_finished, timeout=120, message="a job after the restart")
    assert Job.objects.get(pk=second.pk).status == Job.Status.COMPLETED
    assert worker.proc.poll() is None


def test_after_a_broker_restart_a_busy_worker_leaves_the_next_job_to_an_idle_one(own_redis, start_worker, make_user,
                                                                                jobs_hold):
    """Celery restores a reconnected consumer's prefetch to at least one message, and the running job's
    message belonged to the old connection: a busy worker would reserve the next job and hold it until
    its own job ends, while an idle worker waits."""
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", user=alice, per_class=6)
    long_job = make_runnable_job(version, user=alice, budget=20000)  # held: it runs until the test cancels it
    broker = {"CELERY_BROKER_URL": own_redis.url}
    busy = start_worker(queues="tuning", extra_env=broker)
    sender = Celery("sender", broker=own_redis.url, set_as_current=False)
    sender.send_task("webapp.jobs.tasks.run_tuning_job", args=[long_job.pk], queue="tuning")
    wait_for(lambda: MetricPoint.objects.filter(job=long_job).exists(), timeout=180, message="the long job to run")

    own_redis.stop()
    wait_for(lambda: "Connection to broker lost" in busy.log_path.read_text(errors="replace"), timeout=60,
             message="the worker to notice the broker is gone")
    own_redis.start()
    wait_for(lambda: busy.log_path.read_text(errors="replace").count("Connected to redis") >= 2, timeout=120,
             message="the busy worker to reconnect")
    next_job = make_runnable_job(version, user=alice, method="zeroshot", budget=1)
    sender.send_task("webapp.jobs.tasks.run_tuning_job", args=[next_job.pk], queue="tuning")
    idle = start_worker(queues="tuning", extra_env=broker)

    wait_for(lambda: Job.objects.get(pk=next_job.pk).status != Job.Status.QUEUED, timeout=180,
             message="the idle worker to take the next job")
    assert Job.objects.get(pk=next_job.pk).worker == idle.name
    assert Job.objects.get(pk=long_job.pk).status == Job.Status.RUNNING  # still held by the busy worker
    Job.objects.filter(pk=long_job.pk).update(cancel_requested=True)
    jobs_hold.release()
    wait_for(lambda: all(j.is_finished for j in Job.objects.filter(pk__in=[long_job.pk, next_job.pk])), timeout=240,
             message="both jobs to finish")
    assert Job.objects.get(pk=long_job.pk).status == Job.Status.CANCELLED
    assert Job.objects.get(pk=next_job.pk).status == Job.Status.COMPLETED
