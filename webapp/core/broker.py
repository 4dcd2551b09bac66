"""The broker seen from the rows: which queues tuning jobs use, the transport options of a worker (below),
and which rows have a message in the broker: waiting in their queue, or delivered to a worker and not
yet acknowledged. A QUEUED job (or a dataset version waiting for ingestion) with neither lost its
message (a Redis restarted without persistence, flushed, or replaced) and would otherwise wait forever.

Reads the Redis transport's own keys, read-only; for any other transport it cannot tell and says so
by returning None.
"""

from __future__ import annotations

import base64
import json
import logging

from celery import current_app
from django.conf import settings

log = logging.getLogger(__name__)

TUNING_TASK = "webapp.jobs.tasks.run_tuning_job"


def tuning_queue() -> str:
    return settings.CELERY_TASK_ROUTES[TUNING_TASK]["queue"]


def tuning_queues() -> list[str]:
    return [tuning_queue(), settings.TUNING_GPU_QUEUE]


# Redis keeps a delivered, unacknowledged message in one hash per key set, and a consumer puts back
# any in its hash older than its visibility timeout. Tuning jobs run for up to a day, so they need
# the long timeout; short tasks must come back within minutes when their worker dies. A worker that
# serves no tuning queue therefore keeps its deliveries in a key set of its own, with a short timeout,
# and never restores (re-runs) a running tuning job's message early.
SHORT_TASK_UNACKED_KEYS = {"unacked_key": "unacked-short", "unacked_index_key": "unacked-short_index",
                           "unacked_mutex_key": "unacked-short_mutex"}


def transport_options_for(queues: list[str]) -> dict:
    """The broker transport options of a worker that consumes `queues`."""
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    if not set(tuning_queues()) & set(queues):
        options.update(SHORT_TASK_UNACKED_KEYS, visibility_timeout=settings.SHORT_TASK_VISIBILITY_TIMEOUT)
    return options


def tuning_jobs_with_a_message(queue: str | None = None) -> set[int] | None:
    """Job ids named by a run_tuning_job message in `queue` (default: the one the task is routed to)
    or delivered and unacknowledged, or None when the broker cannot be read."""
    return ids_with_a_message(TUNING_TASK, queue or tuning_queue())


def ids_with_a_message(tasks: str | set[str], queue: str) -> set[int] | None:
    """The first argument (a row id) of every message of `tasks` waiting in `queue` or delivered and
    unacknowledged (by any worker), or None when the broker cannot be read."""
    app = current_app  # the project's Celery app: webapp/celery.py makes it current, webapp/__init__ imports it
    tasks = {tasks} if isinstance(tasks, str) else set(tasks)
    try:
        with app.connection_for_read() as connection:
            if connection.transport.driver_type != "redis":
                return None
            channel = connection.default_channel
            client = channel.client
            # kombu keeps one list per priority step; priority 0 (ours) is the plain queue name.
            lists = [queue] + [f"{queue}{channel.sep}{step}" for step in channel.priority_steps if step]
            waiting = [raw for name in lists for raw in client.lrange(name, 0, -1)]
            delivered = [raw for key in {channel.unacked_key, SHORT_TASK_UNACKED_KEYS["unacked_key"]}
                         for raw in client.hvals(key)]
    except Exception:  # the broker is down: nothing can be concluded, the next pass tries again
        log.warning("could not read the broker's queue %s", queue, exc_info=True)
        return None
    return {row_id for row_id in (_row_id(raw, tasks) for raw in [*waiting, *delivered]) if row_id is not None}


def _job_id(raw: bytes) -> int | None:
    return _row_id(raw, {TUNING_TASK})


def _row_id(raw: bytes, tasks: set[str]) -> int | None:
    """The row id a message of `tasks` carries; None for other tasks and for anything unreadable
    (at worst its row is sent again, which is harmless)."""
    try:
        message = json.loads(raw)
        if isinstance(message, list):  # an unacknowledged entry: [message, exchange, routing key]
            message = message[0]
        if (message.get("headers") or {}).get("task") not in tasks:
            return None
        body = message.get("body", "")
        if (message.get("properties") or {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        return int(json.loads(body)[0][0])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
