"""The job list and the job page: every state in words (queue position, progress, reason of a
failure), only the user's workspaces, and the cancel button for engineers only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.webapp.factories import csrf_client, make_ready_version, make_runnable_job
from webapp.jobs.models import Job, MetricPoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(alice):
    return make_ready_version("Press line", user=alice, per_class=4)


def test_list_shows_every_state_in_words(alice, version, tuning_worker_alive):
    queued_first = make_runnable_job(version)
    queued_second = make_runnable_job(version)
    running = make_runnable_job(version, status=Job.Status.RUNNING)
    Job.objects.filter(pk=running.pk).update(queries_used=150, attempts=1, heartbeat_at=timezone.now())
    failed = make_runnable_job(version, status=Job.Status.FAILED)
    Job.objects.filter(pk=failed.pk).update(error="The backbone could not be loaded: file missing", log="Traceback ...")
    make_runnable_job(version, status=Job.Status.COMPLETED)
    make_runnable_job(version, status=Job.Status.CANCELLED)

    page = csrf_client(alice).get("/jobs/").content.decode()
    assert page.count("<tr data-job-id") == 6
    for label in ("Queued", "Running", "Completed", "Failed", "Cancelled"):
        assert f">{label}</span>" in page
    assert "Queued, position 1 in the queue" in page and "Queued, position 2 in the queue" in page
    first_row = page[page.index(f'data-job-id="{queued_first.pk}"'):]
    assert "position 1" in first_row[:first_row.index("</tr>")]
    assert queued_second.pk != queued_first.pk
    assert "Running, 150 of 300 queries" in page
    assert "The backbone could not be loaded: file missing" in page
    assert "Traceback" not in page  # the log stays on the job page, folded away


def test_list_shows_only_the_users_workspaces(alice, version, make_user):
    mine = make_runnable_job(version)
    other = make_runnable_job(make_ready_version("Paint shop", per_class=4))
    page = csrf_client(alice).get("/jobs/").content.decode()
    assert f'data-job-id="{mine.pk}"' in page and f'data-job-id="{other.pk}"' not in page


def test_job_page_of_another_workspace_is_not_found(version, make_user):
    job = make_runnable_job(version)
    bob = make_user("bob", workspace="Paint shop")
    assert csrf_client(bob).get(f"/jobs/{job.pk}/").status_code == 404


def test_viewer_sees_the_job_page_without_the_cancel_button(alice, version, make_user):
    job = make_runnable_job(version)
    viewer = make_user("victor", workspace="Press line", role="viewer")
    viewer_page = csrf_client(viewer).get(f"/jobs/{job.pk}/").content.decode()
    engineer_page = csrf_client(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert "cancel-button" not in viewer_page and "cancel-button" in engineer_page
    assert "vendor/plotly/plotly.min.js" in viewer_page and "js/job_plots.js" in viewer_page


def test_failed_job_page_shows_the_reason_and_keeps_the_log(alice, version):
    job = make_runnable_job(version, status=Job.Status.FAILED)
    Job.objects.filter(pk=job.pk).update(error="The dataset could not be used for this job: too few images",
                                         log="Traceback (most recent call last): ...")
    page = csrf_client(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert "The dataset could not be used for this job: too few images" in page
    assert "Job log (for support)" in page and "Traceback (most recent call last)" in page


def test_running_job_whose_worker_went_silent_is_not_shown_as_running(alice, version, settings):
    job = make_runnable_job(version, status=Job.Status.RUNNING)
    silent_since = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS + 5)
    Job.objects.filter(pk=job.pk).update(attempts=1, heartbeat_at=silent_since)
    body = csrf_client(alice).get(f"/jobs/{job.pk}/metrics.json").json()
    assert body["worker_silent"] and "stopped responding" in body["status_text"]


def test_completed_job_page_shows_the_accuracies(alice, version):
    job = make_runnable_job(version, status=Job.Status.COMPLETED)
    Job.objects.filter(pk=job.pk).update(zero_shot_accuracy=0.5, tuned_accuracy=0.875, queries_used=300)
    MetricPoint.objects.create(job=job, seq=1, step=0, stage="zeroshot", queries=1, train_loss=1.0, elapsed_s=0.1)
    page = csrf_client(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert "50.0%" in page and "87.5%" in page
