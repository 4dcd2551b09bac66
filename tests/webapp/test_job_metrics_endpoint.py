"""metrics.json: only the points after `?after=<seq>`, column by column, with status, progress,
ETA and, once the job has ended, its results; so the page updates without a reload."""

import pytest
from django.utils import timezone

from tests.webapp.factories import csrf_client, make_ready_version, make_runnable_job
from webapp.jobs.models import Job, MetricPoint
from webapp.jobs.time_model import DEFAULT_FIGURES

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice):
    version = make_ready_version("Press line", user=alice, per_class=4)
    job = make_runnable_job(version, status=Job.Status.RUNNING, budget=1000)
    Job.objects.filter(pk=job.pk).update(attempts=1, heartbeat_at=timezone.now(), queries_used=500,
                                         stage="zo", stage_switch_queries=300)
    MetricPoint.objects.bulk_create([
        MetricPoint(job=job, seq=i, step=i, stage="cmaes" if i < 3 else "zo", queries=100 * i,
                    train_loss=2.0 - i / 10, val_acc=0.5 if i % 2 else None, sharpness=None, sparsity=None,
                    elapsed_s=float(i))
        for i in range(1, 6)
    ])
    job.refresh_from_db()
    return job


def test_full_fetch_returns_every_point_column_by_column(alice, job):
    body = csrf_client(alice).get(f"/jobs/{job.pk}/metrics.json").json()
    assert body["points"]["seq"] == [1, 2, 3, 4, 5]
    assert body["points"]["queries"] == [100, 200, 300, 400, 500]
    assert body["points"]["val_acc"] == [0.5, None, 0.5, None, 0.5]
    assert body["last_seq"] == 5 and body["stage_switch_queries"] == 300


def test_incremental_fetch_returns_only_new_points(alice, job):
    client = csrf_client(alice)
    assert client.get(f"/jobs/{job.pk}/metrics.json?after=3").json()["points"]["seq"] == [4, 5]
    none_new = client.get(f"/jobs/{job.pk}/metrics.json?after=5").json()
    assert none_new["points"]["seq"] == [] and none_new["last_seq"] == 5


def test_running_job_reports_progress_and_eta(alice, job):
    body = csrf_client(alice).get(f"/jobs/{job.pk}/metrics.json").json()
    assert body["status"] == "running" and not body["finished"] and body["results"] is None
    assert body["progress"] == 0.5
    # 500 queries left at the 100 queries/s reached so far, then the finishing (evaluation, storing) that the
    # time model gives a worker that has measured nothing yet
    assert body["eta_seconds"] == pytest.approx(5.0 + DEFAULT_FIGURES["cpu"]["overhead_s"])


def test_finished_job_carries_its_results(alice, job):
    Job.objects.filter(pk=job.pk).update(status=Job.Status.COMPLETED, zero_shot_accuracy=0.4, tuned_accuracy=0.9,
                                         evaluation={"class_names": ["a", "b"]})
    body = csrf_client(alice).get(f"/jobs/{job.pk}/metrics.json?after=5").json()
    assert body["finished"] and body["progress"] == 1.0
    assert body["results"]["zero_shot_accuracy"] == 0.4 and body["results"]["tuned_accuracy"] == 0.9
    assert body["results"]["evaluation"]["class_names"] == ["a", "b"]


def test_queued_job_reports_its_position(alice, job, tuning_worker_alive):
    version = job.dataset_version
    first, second = make_runnable_job(version), make_runnable_job(version)
    body = csrf_client(alice).get(f"/jobs/{second.pk}/metrics.json").json()
    assert body["queue_position"] == 2 and body["status_text"].startswith("Queued, position 2")
    assert first.pk < second.pk


def test_bad_cursor_is_refused_in_words(alice, job):
    response = csrf_client(alice).get(f"/jobs/{job.pk}/metrics.json?after=x")
    assert response.status_code == 400 and "whole number" in response.json()["error"]


def test_another_workspace_gets_nothing(job, make_user):
    bob = make_user("bob", workspace="Paint shop")
    assert csrf_client(bob).get(f"/jobs/{job.pk}/metrics.json").status_code == 404


def test_a_viewer_may_read_the_curves(job, make_user):
    viewer = make_user("victor", workspace="Press line", role="viewer")
    assert csrf_client(viewer).get(f"/jobs/{job.pk}/metrics.json").json()["points"]["seq"] == [1, 2, 3, 4, 5]
