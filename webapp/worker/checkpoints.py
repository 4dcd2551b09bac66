"""The tuner's checkpoint in shared storage (local folder or S3), so a job resumes on another machine.

Storage offers no atomic overwrite, so each save writes a new file and then points the job row at
it (a fenced UPDATE: the row is the pointer, and swapping it is atomic); the previous file is
deleted only after that. A crash at any moment leaves the row pointing at a complete file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from webapp.jobs.models import Job
from webapp.worker import handback
from webapp.worker.fence import Fence, job_checkpoint_set, job_log_append
from webapp.worker.outage import is_outage, through_outages, what_is_away

log = logging.getLogger(__name__)

# The tuner may save after every CMA-ES generation; on a small model that is many times a second.
# Saving at most this often bounds the storage traffic; a resume then repeats at most this much work.
MIN_SECONDS_BETWEEN_SAVES = 2.0


def checkpoint_prefix(job_id: int) -> str:
    return f"jobs/{job_id}/checkpoint"


class StorageCheckpoint:
    """`before_save` runs first at each save: the job passes its metric sink's flush, so the database
    holds every point up to the checkpoint and a resume (which re-emits only what comes after it)
    leaves no gap in the curve."""

    def __init__(self, fence: Fence, *, before_save=None, min_interval_s: float = MIN_SECONDS_BETWEEN_SAVES):
        self.fence = fence
        self.before_save = before_save
        self.min_interval_s = min_interval_s
        self._last_save = float("-inf")
        self._saves = 0
        self._skipped = False  # saves are being skipped for an outage, and the job log says so
        self.loaded_from: str | None = None
        self.resumed_queries: int | None = None

    def _current(self) -> str:
        return Job.objects.values_list("checkpoint", flat=True).get(pk=self.fence.job_id)

    def load(self) -> dict | None:
        name = self._current()
        if not name:
            return None
        try:
            state = through_outages(lambda: _read_json(name), fence=self.fence, what="The checkpoint", doing="read")
        except FileNotFoundError:
            log.warning("job %s: checkpoint %s is missing; starting over", self.fence.job_id, name)
            return None
        self.loaded_from = name
        self.resumed_queries = int(state.get("queries", 0)) if isinstance(state, dict) else None
        return state

    def save(self, state: dict) -> None:
        now = time.monotonic()
        # A worker handing its job back saves the state it stopped at, however recent the last save.
        if (now - self._last_save < self.min_interval_s and not handback.requested()) or self.fence.lost:
            return
        self._last_save = now
        if self.before_save:
            self.before_save()
        self._saves += 1
        name = None
        try:
            previous = self._current()
            wanted = f"{checkpoint_prefix(self.fence.job_id)}-a{self.fence.attempt}-{self._saves:06d}.json"
            name = default_storage.save(wanted, ContentFile(json.dumps(state).encode("utf-8")))
            if not job_checkpoint_set(fence=self.fence, name=name):
                default_storage.delete(name)  # the job is no longer ours: leave its pointer alone
                return
        except Exception as exc:
            # The database or the storage is briefly away (as MetricSink and Pulse also allow): skip
            # this save, the tuner goes on and the next save tries again. The row still names the
            # previous complete file. Only an outage is skipped; anything else fails the attempt.
            if not is_outage(exc):
                raise
            if isinstance(exc, (OperationalError, InterfaceError)):
                connection.close()  # the next save opens a fresh connection
            if name:
                _delete_quietly(name)
            self._note_skipped(exc)
            return
        self._skipped = False
        if previous and previous != name:
            _delete_quietly(previous)

    def _note_skipped(self, exc: BaseException) -> None:
        log.warning("job %s: %s away, checkpoint not saved this time (%s)", self.fence.job_id, what_is_away(exc), exc)
        if self._skipped:
            return
        self._skipped = True
        with contextlib.suppress(OperationalError, InterfaceError):
            job_log_append(fence=self.fence, text=f"[{timezone.now():%Y-%m-%d %H:%M:%S}] a checkpoint could not be "
                                                  f"saved: {what_is_away(exc)} is not answering. Tuning goes on; "
                                                  "the next checkpoint tries again.")


def _read_json(name: str):
    with default_storage.open(name, "rb") as handle:
        return json.loads(handle.read().decode("utf-8"))


def checkpoint_delete(job_id: int) -> None:
    """Once a job has finished its resume state is of no use: remove every checkpoint file of the job,
    including any an attempt killed between two writes left behind. The row stopped naming them in
    the very UPDATE that finished the job, so no reader ever sees a finished job with a checkpoint."""
    folder, stem = checkpoint_prefix(job_id).rsplit("/", 1)
    try:
        files = default_storage.listdir(folder)[1]
    except OSError:  # missing, or storage away for now: the periodic clean-up comes back for them
        return
    for file in files:
        if file.startswith(stem):
            _delete_quietly(f"{folder}/{file}")


def _delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except OSError:
        log.warning("could not delete old checkpoint %s", name)
