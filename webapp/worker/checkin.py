"""Each worker says, from its own process, that it is alive and which queues it consumes.

A task cannot do this: a check-in task sent to the `default` queue is answered by whichever worker
serves `default`, so with only that worker alive a tuning job would be shown as about to start. The
worker's main process runs this thread from `worker_ready` until `worker_shutdown` instead.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)

_running: dict[str, tuple[threading.Event, threading.Thread]] = {}


def checkin_start(*, hostname: str, queues: list[str]) -> None:
    stop = threading.Event()

    def loop() -> None:
        from webapp.worker.status import worker_status_check_in

        try:
            _report_backbones(hostname, queues)
            while True:
                try:
                    worker_status_check_in(hostname=hostname, queues=queues)
                except Exception:  # noqa: BLE001 - the database is away: try again at the next beat
                    log.warning("worker %s could not check in", hostname, exc_info=True)
                    close_old_connections()
                if stop.wait(settings.WORKER_CHECKIN_SECONDS):
                    return
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop, name="worker-checkin", daemon=True)
    _running[hostname] = (stop, thread)
    thread.start()


def _report_backbones(hostname: str, queues: list[str]) -> None:
    """Once, when a tuning worker starts: which real backbones it can run (hashing a new weights file
    takes seconds, so in this thread, never in a job)."""
    from webapp.integrations.tuning.backbones import runnable_backbones
    from webapp.worker.status import worker_status_backbones_available, worker_status_check_in

    tuning_queues = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {settings.TUNING_GPU_QUEUE}
    if not tuning_queues & set(queues):
        return
    try:
        worker_status_check_in(hostname=hostname, queues=queues)
        worker_status_backbones_available(hostname=hostname, backbones=runnable_backbones())
    except Exception:  # noqa: BLE001 - the form then offers the registered backbones only
        log.warning("worker %s could not list its backbones", hostname, exc_info=True)


def checkin_stop(*, hostname: str) -> None:
    """Stop beating, and say that this worker consumes nothing any more (it may take a while to exit)."""
    from webapp.worker.status import worker_status_check_in

    stop, thread = _running.pop(hostname, (None, None))
    if stop is None:
        return
    stop.set()
    thread.join(timeout=10)
    try:
        worker_status_check_in(hostname=hostname, queues=[])
    except Exception:  # noqa: BLE001 - it will simply look silent after WORKER_FRESH_SECONDS
        log.warning("worker %s could not check out", hostname, exc_info=True)
    finally:
        connections.close_all()
