"""A dropped database connection (a restart or failover) does not fail a running job: the metric
buffer keeps its points and writes them with a fresh connection, and the cancel check carries on.
PostgreSQL only: the test cuts the worker's connection from the server side."""

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.jobs.models import Job, MetricPoint
from webapp.worker.checkpoints import StorageCheckpoint
from webapp.worker.fence import job_claim
from webapp.worker.pulse import StopCheck
from webapp.worker.sink import MetricSink

pytestmark = pytest.mark.django_db(transaction=True)


def cut_connection() -> None:
    """Terminate this process's database session from another session, as a server restart would."""
    import psycopg

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def point(queries, step):
    return {"step": step, "stage": "zo", "queries": queries, "train_loss": 1.0, "val_acc": None,
            "sharpness": None, "sparsity": 0.5, "elapsed_s": float(step)}


def test_metric_points_survive_a_dropped_database_connection(make_user):
    if connection.vendor != "postgresql":
        pytest.skip("cuts a PostgreSQL session; run with DATABASE_URL=postgresql://...")
    job = make_runnable_job(make_ready_version("Press line", per_class=4))
    fence = job_claim(job_id=job.pk, worker="w1@host")
    sink = MetricSink(fence, flush_seconds=3600, flush_points=2)
    stop = StopCheck(fence, every_s=0)

    cut_connection()
    assert stop() is False  # the cancel check meets the dead session and carries on

    sink.add(point(2, 1))
    cut_connection()
    sink.add(point(4, 2))  # this flush meets the dead session: the points stay in the buffer
    assert MetricPoint.objects.filter(job=job).count() == 0
    sink.add(point(6, 3))  # a fresh connection: everything is written, nothing lost, in order
    assert list(MetricPoint.objects.filter(job=job).values_list("seq", "queries")) == [(1, 2), (2, 4), (3, 6)]
    assert not fence.lost


def test_a_checkpoint_save_that_meets_a_dropped_connection_is_skipped_not_fatal(make_user):
    if connection.vendor != "postgresql":
        pytest.skip("cuts a PostgreSQL session; run with DATABASE_URL=postgresql://...")
    job = make_runnable_job(make_ready_version("Press line", per_class=4))
    fence = job_claim(job_id=job.pk, worker="w1@host")
    checkpoint = StorageCheckpoint(fence, min_interval_s=0)
    checkpoint.save({"queries": 10})
    kept = Job.objects.get(pk=job.pk).checkpoint

    files = set(default_storage.listdir(f"jobs/{job.pk}")[1])
    cut_connection()
    checkpoint.save({"queries": 20})  # meets the dead session: this save is skipped, the attempt goes on
    assert Job.objects.get(pk=job.pk).checkpoint == kept and default_storage.exists(kept)
    assert set(default_storage.listdir(f"jobs/{job.pk}")[1]) == files  # no stray file
    checkpoint.save({"queries": 30})  # a fresh connection: saved, the old file replaced
    assert StorageCheckpoint(fence).load() == {"queries": 30} and not default_storage.exists(kept)
    assert not fence.lost


class DatabaseOutage:
    """The test database refuses every connection (ALLOW_CONNECTIONS false, open sessions ended) until
    `end()`: a real outage of this database only, made and ended from a session on another one."""

    def __init__(self):
        import psycopg

        params = connection.get_connection_params()
        for key in ("cursor_factory", "context"):
            params.pop(key, None)
        self.name = params.pop("dbname")
        self.admin = psycopg.connect(**params, dbname="postgres", autocommit=True)

    def begin(self) -> None:
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self.admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [self.name])

    def end(self) -> None:
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


def test_a_database_outage_at_the_final_save_keeps_the_result_and_costs_no_attempt(make_user, monkeypatch):
    """The database goes away just as the finished job is to be written: the worker keeps its result and
    tries again (with growing pauses) until the database is back, and the job completes on attempt 1."""
    if connection.vendor != "postgresql":
        pytest.skip("stops a PostgreSQL database; run with DATABASE_URL=postgresql://...")
    import logging
    import threading

    from webapp.adapters.models import AdapterVersion
    from webapp.worker import execution

    alice = make_user("alice", workspace="Press line")
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=6), user=alice, budget=300)
    outage, waited = DatabaseOutage(), threading.Event()

    class WaitSeen(logging.Handler):
        def emit(self, record):
            waited.set()

    logging.getLogger("webapp.worker.outage").addHandler(handler := WaitSeen(level=logging.WARNING))
    real_finish = execution.job_finish

    def finish_as_the_database_goes(**kwargs):
        if not waited.is_set() and not getattr(finish_as_the_database_goes, "cut", False):
            finish_as_the_database_goes.cut = True
            outage.begin()
            # Back once the worker has met the outage and decided to wait (no clock in the test).
            threading.Thread(target=lambda: waited.wait(120) and outage.end(), daemon=True).start()
        return real_finish(**kwargs)

    monkeypatch.setattr(execution, "job_finish", finish_as_the_database_goes)
    try:
        outcome = execution.job_execute(job_id=job.pk, worker="in-process@test")
    finally:
        outage.end()
        logging.getLogger("webapp.worker.outage").removeHandler(handler)
    job.refresh_from_db()
    assert outcome == Job.Status.COMPLETED and waited.is_set(), job.log
    assert job.status == Job.Status.COMPLETED and job.attempts == 1 and job.checkpoint == "", job.error + job.log
    assert AdapterVersion.objects.filter(job=job).count() == 1
