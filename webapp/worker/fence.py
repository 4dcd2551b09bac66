"""The state transitions of one attempt at a job, made by its worker through its Fence.

Every transition of a running job is a conditional UPDATE on (status, attempts): the attempt number
is a fencing token, so a worker that was given up for dead (and whose job was requeued) can no
longer write anything to the row, and a second delivery of a Celery message finds nothing to claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from webapp.adapters.services import adapter_version_create_from_job
from webapp.jobs.models import Job
from webapp.jobs.quality import validation_verdict
from webapp.jobs.queues import job_send_after_commit
from webapp.worker.notifications import job_notify_after_commit


@dataclass
class Fence:
    """Write access of one attempt to its job row: every write is conditional on still owning it."""

    job_id: int
    attempt: int
    lost: bool = field(default=False)

    def rows(self):
        return Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING, attempts=self.attempt)

    def update(self, **fields) -> bool:
        if self.lost:
            return False
        if self.rows().update(**fields) != 1:
            self.lost = True
        return not self.lost


def job_claim(*, job_id: int, worker: str) -> Fence | None:
    """QUEUED -> RUNNING for exactly one delivery; None when there is nothing to do."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, attempts=F("attempts") + 1, worker=worker, heartbeat_at=now,
        started_at=Coalesce(F("started_at"), Value(now)), error="",
    )
    if not claimed:
        return None
    attempt = Job.objects.values_list("attempts", flat=True).get(pk=job_id)
    return Fence(job_id=job_id, attempt=attempt)


def counted_attempts(*, attempts: int, handbacks: int) -> int:
    """The attempts that count towards JOB_MAX_ATTEMPTS: all but those handed back by a worker shutting down."""
    return attempts - handbacks


def append_to_log(text: str):
    """An expression that adds `text` to the job's log in the UPDATE itself (no read first)."""
    return Concat(F("log"), Value(text), output_field=TextField())


def job_log_append(*, fence: Fence, text: str) -> None:
    fence.update(log=append_to_log(text.rstrip("\n") + "\n"))


def job_fail(*, fence: Fence, reason: str, detail: str, worker_seconds: float = 0.0) -> bool:
    failed = fence.update(
        status=Job.Status.FAILED, error=reason, finished_at=timezone.now(), heartbeat_at=timezone.now(), checkpoint="",
        log=append_to_log(detail.rstrip("\n") + "\n"), worker_seconds=F("worker_seconds") + worker_seconds,
    )
    if failed:
        job_notify_after_commit(fence.job_id)
    return failed


@transaction.atomic
def job_retry(*, fence: Fence, detail: str, worker_seconds: float = 0.0) -> bool:
    """Back to QUEUED after a transient error, keeping the checkpoint: the next attempt resumes from it.
    The reaper's JOB_MAX_ATTEMPTS bounds the retries, since every attempt counts."""
    if not fence.update(status=Job.Status.QUEUED, worker="", log=append_to_log(detail.rstrip("\n") + "\n"),
                        worker_seconds=F("worker_seconds") + worker_seconds):
        return False
    job_send_after_commit(fence.job_id)
    return True


@transaction.atomic
def job_hand_back(*, fence: Fence, queries: int, worker_seconds: float = 0.0) -> bool:
    """Back to QUEUED at once because the worker is shutting down gracefully; the checkpoint saved as
    the tuner stopped is where the next worker resumes. Not a failure, and no stale timeout to wait for:
    the attempt is free (`handbacks`, see counted_attempts)."""
    note = (f"[{timezone.now():%Y-%m-%d %H:%M:%S}] the worker is shutting down: the job was handed back at "
            f"{queries:,} queries and resumes from its checkpoint on the next free worker.\n")
    if not fence.update(status=Job.Status.QUEUED, worker="", log=append_to_log(note), handbacks=F("handbacks") + 1,
                        worker_seconds=F("worker_seconds") + worker_seconds):
        return False
    job_send_after_commit(fence.job_id)
    return True


@transaction.atomic
def job_finish(*, fence: Fence, result, zero_shot: dict, tuned: dict, class_names: list[str], adapter_dir,
               worker_seconds: float, failure: str = "") -> Job | None:
    """COMPLETED (CANCELLED when the run was stopped, FAILED with the `failure` reason when it ended
    on an error and this is the best adapter found until then) with evaluations and a new adapter version,
    all in one transaction with the fenced status change: a job is never shown finished without its
    adapter, nor does an adapter appear for a job this worker no longer owned. The worker creates the
    adapter version here, so that the web apps depend one way: adapters never call back into jobs."""
    job = Job.objects.select_for_update().filter(pk=fence.job_id, status=Job.Status.RUNNING,
                                                 attempts=fence.attempt).first()
    if job is None:
        fence.lost = True
        return None
    job.queries_used = result.queries_used
    job.best_val_accuracy = result.best_val_acc
    job.zero_shot_accuracy = zero_shot["accuracy"]
    job.tuned_accuracy = tuned["accuracy"]
    job.evaluation = {"class_names": list(class_names), "zero_shot": zero_shot, "tuned": tuned,
                      "validation": validation_verdict(result)}
    job.peak_memory_bytes = result.peak_memory_bytes
    job.leaderboard = result.leaderboard.to_dict() if result.leaderboard is not None else {}
    job.worker_seconds += worker_seconds
    job.status = Job.Status.CANCELLED if result.stopped else Job.Status.COMPLETED
    if result.stopped:
        job.error = "Cancelled on request; the best adapter found until then was saved."
    if failure:
        job.status = Job.Status.FAILED
        job.error = f"{failure} The best adapter found until then was kept as a version."
    if not job.evaluation["validation"]["better_than_zero_shot"]:  # do no harm, said in plain words
        job.error = " ".join(filter(None, [job.error, job.evaluation["validation"]["sentence"]]))
    now = timezone.now()
    job.finished_at = job.heartbeat_at = now
    job.checkpoint = ""  # in the same write as the status: a finished job never names a checkpoint
    job.full_clean()
    job.save()
    adapter_version_create_from_job(job=job, adapter_dir=adapter_dir)
    job_notify_after_commit(job.pk)
    return job


def job_checkpoint_set(*, fence: Fence, name: str) -> bool:
    return fence.update(checkpoint=name)
