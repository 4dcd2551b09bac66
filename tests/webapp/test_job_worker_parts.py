"""The pieces a worker runs a job with: batched metric writes, the storage checkpoint, the
heartbeat, the cancel check and the plain failure reasons."""

import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.jobs.models import Job, MetricPoint
from webapp.worker.checkpoints import StorageCheckpoint, checkpoint_delete
from webapp.worker.fence import Fence, job_claim
from webapp.worker.pulse import Pulse, StopCheck
from webapp.worker.reasons import plain_reason
from webapp.worker.sink import MetricSink

pytestmark = pytest.mark.django_db


@pytest.fixture
def fence(make_user) -> Fence:
    job = make_runnable_job(make_ready_version("Press line", per_class=4))
    return job_claim(job_id=job.pk, worker="w1@host")


def point(queries, step, stage="cmaes", stage_started=False, **values):
    return {"step": step, "stage": stage, "stage_started": stage_started, "queries": queries, "train_loss": 1.0,
            "val_acc": None, "sharpness": None, "sparsity": None, "elapsed_s": step / 10, **values}


def test_points_are_written_in_batches_with_the_jobs_progress(fence):
    sink = MetricSink(fence, flush_seconds=3600, flush_points=3)
    sink.add(point(1, 0, "zeroshot", stage_started=True))
    sink.add(point(41, 1, stage_started=True))
    assert MetricPoint.objects.count() == 0  # buffered
    sink.add(point(81, 2))
    assert list(MetricPoint.objects.values_list("seq", "queries")) == [(1, 1), (2, 41), (3, 81)]
    sink.add(point(83, 3, "zo", stage_started=True, sparsity=0.5))
    sink.flush()
    job = Job.objects.get(pk=fence.job_id)
    assert (job.queries_used, job.stage, job.stage_switch_queries) == (83, "zo", 81)


def test_the_stage_switch_is_where_the_tuner_says_the_zo_stage_started(fence):
    """The sink reads the tuner's stage_started mark: a ZO stage after zero-shot (method zosgd) draws no
    switch, and only the point that starts ZO after CMA-ES places it."""
    sink = MetricSink(fence, flush_seconds=3600, flush_points=1000)
    sink.add(point(1, 0, "zeroshot", stage_started=True))
    sink.add(point(3, 1, "zo", stage_started=True))
    sink.add(point(5, 2, "zo"))
    sink.flush()
    assert Job.objects.get(pk=fence.job_id).stage_switch_queries is None
    sink.add(point(9, 3, "cmaes", stage_started=True))
    sink.add(point(12, 4, "zo", stage_started=True))
    sink.flush()
    assert Job.objects.get(pk=fence.job_id).stage_switch_queries == 9


def test_non_finite_values_are_stored_as_missing(fence):
    sink = MetricSink(fence)
    sink.add(point(1, 0, train_loss=float("nan"), sharpness=float("inf")))
    sink.flush()
    row = MetricPoint.objects.get()
    assert row.train_loss is None and row.sharpness is None


def test_after_a_resume_replayed_points_are_dropped_and_numbering_continues(fence):
    first = MetricSink(fence)
    for q, s in [(1, 0), (41, 1), (81, 2), (121, 3)]:
        first.add(point(q, s))
    first.flush()
    resumed = MetricSink(fence)  # the checkpoint was at step 1: the tuner replays steps 2 and 3
    for q, s in [(81, 2), (121, 3), (161, 4)]:
        resumed.add(point(q, s))
    resumed.flush()
    assert list(MetricPoint.objects.values_list("seq", "queries")) == [(1, 1), (2, 41), (3, 81), (4, 121), (5, 161)]
    assert resumed.first_received == (81, 2)


def test_elapsed_time_never_goes_backwards_after_a_resume(fence):
    first = MetricSink(fence)
    for q, s in [(1, 0), (41, 1), (81, 2), (121, 3)]:
        first.add(point(q, s, elapsed_s=10.0 * s))
    first.flush()
    resumed = MetricSink(fence)  # the tuner's clock restarts at the checkpoint's time (step 1: 10 s)
    for q, s, elapsed in [(81, 2, 12.0), (121, 3, 14.0), (161, 4, 16.0), (201, 5, 40.0)]:
        resumed.add(point(q, s, elapsed_s=elapsed))
    resumed.flush()
    elapsed = list(MetricPoint.objects.order_by("seq").values_list("elapsed_s", flat=True))
    assert elapsed == sorted(elapsed) and elapsed[-1] == 40.0


def test_points_of_an_attempt_that_lost_its_job_are_dropped(fence):
    Job.objects.filter(pk=fence.job_id).update(status=Job.Status.QUEUED)
    sink = MetricSink(fence)
    sink.add(point(1, 0))
    sink.flush()
    assert not MetricPoint.objects.exists() and fence.lost


def test_checkpoint_round_trips_through_storage_and_replaces_the_previous_file(fence):
    checkpoint = StorageCheckpoint(fence, min_interval_s=0)
    assert checkpoint.load() is None
    checkpoint.save({"queries": 40, "phase": "stage1"})
    first = Job.objects.get(pk=fence.job_id).checkpoint
    checkpoint.save({"queries": 80, "phase": "stage1"})
    second = Job.objects.get(pk=fence.job_id).checkpoint
    assert first != second and second.startswith(f"jobs/{fence.job_id}/checkpoint")
    assert not default_storage.exists(first)
    with default_storage.open(second) as handle:
        assert json.load(handle)["queries"] == 80
    again = StorageCheckpoint(fence)  # e.g. on another machine
    assert again.load() == {"queries": 80, "phase": "stage1"} and again.resumed_queries == 80
    checkpoint_delete(fence.job_id)  # the files only: the UPDATE that finishes a job clears the pointer
    assert not default_storage.exists(second)


def test_checkpoint_saves_are_spaced_out(fence):
    checkpoint = StorageCheckpoint(fence, min_interval_s=3600)
    checkpoint.save({"queries": 1})
    checkpoint.save({"queries": 2})
    assert StorageCheckpoint(fence).load() == {"queries": 1}


def test_every_point_up_to_a_checkpoint_is_stored_before_it(fence):
    sink = MetricSink(fence, flush_seconds=3600, flush_points=10_000)  # would hold its points for an hour
    checkpoint = StorageCheckpoint(fence, before_save=sink.flush, min_interval_s=0)
    sink.add(point(30, 1))
    sink.add(point(60, 2))
    checkpoint.save({"queries": 60})
    assert list(MetricPoint.objects.values_list("queries", flat=True).order_by("seq")) == [30, 60]
    assert Job.objects.get(pk=fence.job_id).queries_used == 60  # the row is never behind its checkpoint


def test_a_lost_attempt_does_not_move_the_checkpoint_pointer(fence):
    StorageCheckpoint(fence, min_interval_s=0).save({"queries": 1})
    kept = Job.objects.get(pk=fence.job_id).checkpoint
    Job.objects.filter(pk=fence.job_id).update(attempts=2)  # requeued and claimed by someone else
    StorageCheckpoint(fence, min_interval_s=0).save({"queries": 2})
    assert Job.objects.get(pk=fence.job_id).checkpoint == kept and fence.lost


def test_heartbeat_touches_the_row_and_counts_worker_time(fence):
    Job.objects.filter(pk=fence.job_id).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    pulse = Pulse(fence, every_s=1)
    pulse._accounted -= 2.0  # two seconds have passed since the attempt began
    pulse.beat()
    job = Job.objects.get(pk=fence.job_id)
    assert (timezone.now() - job.heartbeat_at).total_seconds() < 5
    assert job.worker_seconds >= 2.0


def test_stop_check_sees_cancel_and_reads_the_row_sparingly(fence, django_assert_num_queries):
    stop = StopCheck(fence, every_s=3600)
    with django_assert_num_queries(1):
        assert stop() is False
        assert stop() is False  # answered from memory
    Job.objects.filter(pk=fence.job_id).update(cancel_requested=True)
    assert StopCheck(fence)() is True and not fence.lost


def test_stop_check_stops_an_attempt_that_lost_its_job(fence):
    Job.objects.filter(pk=fence.job_id).update(status=Job.Status.QUEUED)
    assert StopCheck(fence)() is True and fence.lost


def test_failure_reasons_are_plain_words():
    import tuning

    assert plain_reason(tuning.BackboneError("Checkpoint file not found: /x.pt")) == \
        "The backbone could not be loaded: Checkpoint file not found: /x.pt"
    assert plain_reason(tuning.DataError("Class 'a' has 3 images")).startswith("The dataset could not be used")
    assert "ran out of memory" in plain_reason(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert "Traceback" not in plain_reason(KeyError("x")) and "job log" in plain_reason(KeyError("x"))
