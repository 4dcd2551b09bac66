"""/healthz tells anyone only whether the site works, and queues nothing; the detail (error text, worker
host names) is for staff, on /healthz and on the Status page. Against the real Redis broker."""

import pytest
import redis
from django.test import Client
from django.utils import timezone

from webapp.jobs.models import WorkerStatus

pytestmark = pytest.mark.django_db

HOST = "tuning@press-line-gpu-7"
DOWN_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: a real refusal


@pytest.fixture
def live_worker(db):
    return WorkerStatus.objects.create(hostname=HOST, kind="gpu", last_seen=timezone.now(), queues=",tuning,")


def test_anonymous_callers_get_ok_or_not_ok_only(live_worker, settings):
    ok = Client().get("/healthz")
    assert ok.status_code == 200 and ok.json() == {"ok": True}

    settings.CELERY_BROKER_URL = DOWN_BROKER
    down = Client().get("/healthz")
    assert down.status_code == 503 and down.json() == {"ok": False}


def test_staff_get_the_detail(live_worker, admin_client, settings):
    body = admin_client.get("/healthz").json()
    assert body["ok"] and HOST in body["workers"] and HOST in body["queues"]["tuning"]

    settings.CELERY_BROKER_URL = DOWN_BROKER
    assert "127.0.0.1:1" in admin_client.get("/healthz").json()["broker"]


def test_healthz_sends_no_task(settings, live_worker):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    before = broker.llen(settings.CELERY_TASK_DEFAULT_QUEUE)
    for _ in range(5):
        assert Client().get("/healthz").status_code == 200
    assert broker.llen(settings.CELERY_TASK_DEFAULT_QUEUE) == before


def test_the_status_page_names_workers_to_staff_only(live_worker, make_user, admin_client, settings):
    member = Client()
    member.force_login(make_user("bob", workspace="Press line", role="viewer"))
    settings.CELERY_BROKER_URL = DOWN_BROKER
    page = member.get("/status/").content.decode()
    assert HOST not in page and "127.0.0.1:1" not in page
    assert "1 worker" in page and "GPU" in page and "unreachable" in page

    staff_page = admin_client.get("/status/").content.decode()
    assert HOST in staff_page and "127.0.0.1:1" in staff_page
