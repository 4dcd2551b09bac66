"""Is the product able to work? Database, broker and at least one live worker."""

from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from webapp.jobs.models import WorkerStatus

WORKER_FRESH = timedelta(minutes=2)


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, connection.vendor
    except Exception as exc:  # noqa: BLE001 - reported to the operator in words
        return False, f"database unreachable: {exc}"


def check_broker() -> tuple[bool, str]:
    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2).ping()
        return True, "Redis answers"
    except Exception as exc:  # noqa: BLE001
        return False, f"broker unreachable: {exc}"


def live_workers() -> list[WorkerStatus]:
    return list(WorkerStatus.objects.filter(last_seen__gte=timezone.now() - WORKER_FRESH))
