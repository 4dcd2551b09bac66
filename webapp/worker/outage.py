"""Riding out a short outage of the file storage or the database without losing the attempt's work.

A job's work lives in the worker's memory until it is written: a write that fails because S3, the
shared folder or PostgreSQL is away for a moment is tried again, with growing waits, for up to
JOB_OUTAGE_RETRY_SECONDS, while the attempt keeps its claim (the heartbeat thread beats on). Requeueing
at once instead would spend an attempt, and the work since the last checkpoint, on every failed write.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from webapp.worker.fence import Fence, job_log_append

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60.0


def is_outage(exc: BaseException) -> bool:
    """The database or the storage away for now: worth waiting for. A missing file stays missing."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError))


def what_is_away(exc: BaseException) -> str:
    return "the database" if isinstance(exc, (OperationalError, InterfaceError)) else "the file storage"


def through_outages(action, *, fence: Fence, what: str, doing: str = "stored"):
    """`action()`, tried again while it fails on an outage (see is_outage); the last error is raised once
    JOB_OUTAGE_RETRY_SECONDS have passed or the attempt lost its job. The job log says why it waits."""
    wait = settings.JOB_OUTAGE_FIRST_WAIT_SECONDS
    give_up_at = time.monotonic() + settings.JOB_OUTAGE_RETRY_SECONDS
    told = False
    while True:
        try:
            return action()
        except Exception as exc:
            if not is_outage(exc):
                raise
            if isinstance(exc, (OperationalError, InterfaceError)):
                connection.close()  # the next try opens a fresh connection
            if fence.lost or time.monotonic() + wait > give_up_at:
                raise
            log.warning("job %s: %s failed (%s); trying again in %.1f s", fence.job_id, what, exc, wait)
            if not told:
                told = _tell(fence, f"{what} could not be {doing} yet: {what_is_away(exc)} is not answering "
                                    f"({_short(exc)}). The worker keeps its work and tries again for up to "
                                    f"{settings.JOB_OUTAGE_RETRY_SECONDS // 60 or 1} minutes.")
            time.sleep(wait)
            wait = min(wait * 2, MAX_WAIT_SECONDS)


def _tell(fence: Fence, text: str) -> bool:
    """A line in the job log, where the database answers (when it is the one away, only the worker log has it)."""
    from django.utils import timezone

    try:
        job_log_append(fence=fence, text=f"[{timezone.now():%Y-%m-%d %H:%M:%S}] {text}")
        return True
    except (OperationalError, InterfaceError):
        connection.close()
        return False


def _short(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__
