"""Cancel: engineers only, by POST. A queued job ends at once (its message then does nothing); a
running job is asked to stop and its worker keeps the best adapter so far (see the worker tests)."""

import pytest

from tests.webapp.factories import csrf_client, csrf_post, make_ready_version, make_runnable_job
from webapp.jobs.models import Job
from webapp.worker.execution import job_execute

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(alice):
    return make_ready_version("Press line", user=alice, per_class=4)


def test_cancelling_a_queued_job_ends_it_at_once_and_its_message_then_does_nothing(alice, version):
    job = make_runnable_job(version, user=alice)
    response = csrf_post(csrf_client(alice), f"/jobs/{job.pk}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.finished_at is not None
    assert "before it started" in job.error
    assert job_execute(job_id=job.pk, worker="late-delivery") == "not claimed (already taken, finished or cancelled)"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.attempts == 0


def test_cancelling_a_running_job_asks_its_worker_to_stop(alice, version):
    job = make_runnable_job(version, user=alice, status=Job.Status.RUNNING)
    csrf_post(csrf_client(alice), f"/jobs/{job.pk}/cancel/")
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.cancel_requested


def test_cancelling_a_finished_job_changes_nothing(alice, version):
    job = make_runnable_job(version, user=alice, status=Job.Status.COMPLETED)
    csrf_post(csrf_client(alice), f"/jobs/{job.pk}/cancel/")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED and not job.cancel_requested


def test_cancel_is_post_only(alice, version):
    job = make_runnable_job(version, user=alice)
    assert csrf_client(alice).get(f"/jobs/{job.pk}/cancel/").status_code == 405
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_cancel_needs_the_csrf_token(alice, version):
    job = make_runnable_job(version, user=alice)
    assert csrf_client(alice).post(f"/jobs/{job.pk}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_a_viewer_may_not_cancel(make_user, version):
    job = make_runnable_job(version)
    viewer = make_user("victor", workspace="Press line", role="viewer")
    assert csrf_post(csrf_client(viewer), f"/jobs/{job.pk}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and not job.cancel_requested


def test_another_workspace_cannot_cancel_or_even_see_the_job(make_user, version):
    job = make_runnable_job(version)
    bob = make_user("bob", workspace="Paint shop")
    assert csrf_post(csrf_client(bob), f"/jobs/{job.pk}/cancel/").status_code == 404
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
