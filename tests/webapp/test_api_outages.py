"""Outages answer in JSON, and a job created while the broker is away is saved once, said to be
queued, and sent when the broker is back (by the reaper's resend pass), so a client has no reason
to create it again."""

import json
from datetime import timedelta

import pytest
import redis
from django.test import Client
from django.utils import timezone

from tests.webapp.factories import make_api_token, make_ready_version
from webapp.core.broker import tuning_jobs_with_a_message
from webapp.jobs.models import Job
from webapp.worker.reaper import jobs_resend_lost_messages

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_created_while_the_broker_is_down_is_saved_once_and_sent_when_it_is_back(make_user, settings,
                                                                                       broker_down, monkeypatch):
    user = make_user("erin", workspace="Press line")
    version = make_ready_version("Press line", name="scratches", per_class=6)
    auth = f"Bearer {make_api_token(user)}"
    body = json.dumps({"dataset_version": version.pk, "budget": 300, "shots": 2, "backbone": "tiny-test"})
    response = Client().post("/api/v1/jobs/", body, content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 201 and response["Content-Type"] == "application/json"
    assert "sent when the broker is back" in response.json()["note"]
    job = Job.objects.get()
    assert job.status == Job.Status.QUEUED and response.json()["id"] == job.pk

    monkeypatch.undo()  # the broker is back
    Job.objects.filter(pk=job.pk).update(
        queued_at=timezone.now() - timedelta(seconds=settings.JOB_RESEND_AFTER_SECONDS + 1))
    queue = "tuning-outage-test"  # no worker serves it: the message stays where the test can see it
    monkeypatch.setitem(settings.CELERY_TASK_ROUTES, "webapp.jobs.tasks.run_tuning_job", {"queue": queue})
    try:
        assert jobs_resend_lost_messages(queue=queue) == [job.pk]
        # beside unacknowledged ones of other tests
        assert job.pk in tuning_jobs_with_a_message(queue) and Job.objects.count() == 1
    finally:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)


def test_a_database_error_is_answered_in_json(make_user, monkeypatch):
    from django.db import OperationalError

    from webapp.api import views

    user = make_user("erin", workspace="Press line")
    auth = f"Bearer {make_api_token(user)}"

    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views.selectors, "jobs", database_gone)
    response = Client().get("/api/v1/jobs/", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 503 and "database is unreachable" in response.json()["error"]
    assert response["Retry-After"].isdigit()
