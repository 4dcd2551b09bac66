"""A tuning worker stopped gracefully (SIGTERM: `docker stop`, systemd, a scaled-down machine) hands its
job back at once: the tuner stops at its next check, saves a checkpoint, and the job goes back to the
queue for the next free worker. Without this, Celery's warm shutdown would wait for the whole job
(hours), and a machine killed after its grace period would leave the job to the stale timeout.

Celery's prefork pool runs the job in a child process. `docker stop` signals the main process only,
which forwards the signal to its pool children when its warm shutdown begins (`forward_to_pool`); a
signal to the whole process group (systemd, Ctrl-C in a terminal) reaches the child directly. Either
way the child's handler, installed for the length of a job (`listening`), only raises a flag that the
job's stop check reads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading

log = logging.getLogger(__name__)

_requested = threading.Event()


def requested() -> bool:
    return _requested.is_set()


@contextlib.contextmanager
def listening():
    """While a job runs in a pool child, SIGTERM asks for a hand-back instead of ending the process. The
    previous handler comes back afterwards, so that the pool can still end an idle child."""
    from billiard.process import current_process

    in_pool_child = current_process().name != "MainProcess" and threading.current_thread() is threading.main_thread()
    if not in_pool_child:  # the solo pool, or a test calling the task directly: Celery keeps its handlers
        yield
        return
    _requested.clear()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: _requested.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def forward_to_pool(how: str) -> None:
    """In the worker's main process, at the start of a warm shutdown: tell each pool child."""
    if how != "Warm":
        return  # a cold shutdown ends the children anyway; the reaper requeues their jobs
    from billiard.process import active_children

    for child in active_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGTERM)
            log.info("warm shutdown: asked pool process %s to hand its job back", child.pid)
