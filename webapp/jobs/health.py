"""Is the product able to work? Database, broker and at least one live worker."""

import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from webapp.jobs.models import WorkerStatus

log = logging.getLogger(__name__)


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, connection.vendor
    except Exception as exc:  # noqa: BLE001 - reported to the operator in words
        log.warning("health check: database unreachable: %s", exc)
        return False, f"database unreachable: {exc}"


def check_broker() -> tuple[bool, str]:
    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2).ping()
        return True, "Redis answers"
    except Exception as exc:  # noqa: BLE001
        log.warning("health check: broker unreachable: %s", exc)
        return False, f"broker unreachable: {exc}"


def _fresh():
    return WorkerStatus.objects.filter(last_seen__gte=timezone.now() - timedelta(seconds=settings.WORKER_FRESH_SECONDS))


def live_workers() -> list[WorkerStatus]:
    return list(_fresh().order_by("hostname"))


def real_backbones() -> list[dict]:
    """The real CLIP backbones live workers reported they can run (webapp/worker/checkin.py), each once:
    {"id", "source", "sha256", "size_bytes", "workers"}; downloads last."""
    found: dict[str, dict] = {}
    for worker in live_workers():
        for entry in worker.backbones_available or []:
            found.setdefault(entry["id"], {**entry, "workers": []})["workers"].append(worker.hostname)
    return sorted(found.values(), key=lambda e: (e["source"] == "download", e["id"]))


def live_workers_by_queue() -> dict[str, list[str]]:
    """{"default": ["default@host"], "tuning": [...], "tuning-gpu": [...]}: who serves each queue right now.
    Every queue is always listed, so an empty one stands out."""
    queues = {settings.CELERY_TASK_DEFAULT_QUEUE: []}
    queues.update({route["queue"]: [] for route in settings.CELERY_TASK_ROUTES.values()})
    queues[settings.TUNING_GPU_QUEUE] = []
    for hostname, names in _fresh().order_by("hostname").values_list("hostname", "queues"):
        for name in filter(None, names.split(",")):
            queues.setdefault(name, []).append(hostname)
    return queues


def queue_has_live_worker(queue: str) -> bool:
    return _fresh().filter(queues__contains=f",{queue},").exists()
