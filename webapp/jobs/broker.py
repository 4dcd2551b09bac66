"""Which tuning jobs have a message in the broker: waiting in the `tuning` queue, or delivered to a
worker and not yet acknowledged. A QUEUED job with neither lost its message (a Redis restarted
without persistence, flushed, or replaced) and would otherwise wait forever.

Reads the Redis transport's own keys, read-only; for any other transport it cannot tell and says so
by returning None.
"""

from __future__ import annotations

import base64
import json
import logging

from django.conf import settings

log = logging.getLogger(__name__)

TUNING_TASK = "webapp.jobs.tasks.run_tuning_job"


def tuning_jobs_with_a_message(queue: str | None = None) -> set[int] | None:
    """Job ids named by a run_tuning_job message in `queue` (default: the one the task is routed to)
    or delivered and unacknowledged, or None when the broker cannot be read."""
    from webapp.celery import app

    queue = queue or settings.CELERY_TASK_ROUTES[TUNING_TASK]["queue"]
    try:
        with app.connection_for_read() as connection:
            if connection.transport.driver_type != "redis":
                return None
            channel = connection.default_channel
            client = channel.client
            # kombu keeps one list per priority step; priority 0 (ours) is the plain queue name.
            lists = [queue] + [f"{queue}{channel.sep}{step}" for step in channel.priority_steps if step]
            waiting = [raw for name in lists for raw in client.lrange(name, 0, -1)]
            delivered = client.hvals(channel.unacked_key)
    except Exception:  # the broker is down: nothing can be concluded, the next pass tries again
        log.warning("could not read the broker's tuning queue", exc_info=True)
        return None
    return {job_id for job_id in map(_job_id, [*waiting, *delivered]) if job_id is not None}


def _job_id(raw: bytes) -> int | None:
    """The job id a run_tuning_job message carries; None for other tasks and for anything unreadable
    (at worst its job is sent again, which is harmless)."""
    try:
        message = json.loads(raw)
        if isinstance(message, list):  # an unacknowledged entry: [message, exchange, routing key]
            message = message[0]
        if (message.get("headers") or {}).get("task") != TUNING_TASK:
            return None
        body = message.get("body", "")
        if (message.get("properties") or {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        return int(json.loads(body)[0][0])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
