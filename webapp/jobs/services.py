"""Writes for jobs: create, cancel, and the state transitions a worker and the reaper make.

Every transition of a running job is a conditional UPDATE on (status, attempts): the attempt number
is a fencing token, so a worker that was given up for dead (and whose job was requeued) can no
longer write anything to the row, and a second delivery of a Celery message finds nothing to claim.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from webapp.accounts.access import require_write
from webapp.datasets.models import DatasetVersion
from webapp.datasets.selectors import dataset_version_check_shots
from webapp.integrations.tuning import ConfigError, method_label, minimum_budget, sensitivity_groups, tune_config
from webapp.jobs.models import Job, WorkerStatus
from webapp.jobs.notifications import job_notify_after_commit
from webapp.jobs.queues import job_queue, tuning_queues

log = logging.getLogger(__name__)

MAIN_FIELDS = ("method", "backbone", "budget", "shots", "seed")
RATE_SMOOTHING = 0.5  # weight of the newest job in a worker's measured rate


def tune_config_from(values: dict):
    """A validated tuning.TuneConfig, or a ValidationError on the setting the tuner complained about."""
    from webapp.adapters.adapted import backbone_image_size

    try:
        cfg = tune_config(values)
    except ConfigError as exc:
        raise ValidationError({exc.field or "__all__": str(exc)}) from exc
    # A smaller budget would only return the zero-shot adapter after a worker's start-up (or, for sparse
    # adapters, place the image delta without its sensitivity probes).
    blocks = (backbone_image_size(cfg.backbone) or {}).get("image_blocks") if cfg.adapt == "sparse" else None
    minimum = minimum_budget(cfg, image_blocks=blocks)
    if cfg.budget < minimum:
        groups = sensitivity_groups(cfg, blocks)
        probes = (f", including one sensitivity probe of each of the image model's {groups} parameter groups"
                  if groups else "")
        raise ValidationError({"budget": f"A budget of {cfg.budget:,} queries is too small to tune anything: "
                                         f"{cfg.method} needs at least {minimum:,} queries with these settings{probes}."})
    return cfg


@transaction.atomic
def job_create(*, user, dataset_version: DatasetVersion, config: dict, name: str = "",
               model_line_name: str = "", needs_gpu: bool = False) -> Job:
    """Record a QUEUED job and send `run_tuning_job(job_id)` to its tuning queue once committed (the GPU
    queue, which only GPU workers consume, when it asks for a GPU)."""
    workspace = dataset_version.dataset.workspace
    require_write(user, workspace)
    cfg = tune_config_from(config)
    problem = dataset_version_check_shots(dataset_version, cfg.shots)
    if problem:
        raise ValidationError({"shots" if dataset_version.status == DatasetVersion.Status.READY else "dataset_version": problem})
    job = Job(
        workspace=workspace,
        dataset_version=dataset_version,
        created_by=user,
        name=name.strip(),
        model_line_name=model_line_name.strip() or dataset_version.dataset.name,
        backbone=cfg.backbone,
        method=cfg.method,
        shots=cfg.shots,
        seed=cfg.seed,
        budget=cfg.budget,
        config=cfg.to_dict(),
        needs_gpu=needs_gpu,
    )
    job.full_clean()
    job.save()
    if not job.name:
        job.name = automatic_job_name(job, cfg.method)
        job.save(update_fields=["name"])
    _enqueue_after_commit(job.pk, job=job)
    return job


def automatic_job_name(job: Job, method: str) -> str:
    """'SharpZO on scratches v2, 2026-11-27 14:05 (#41)': the same settings launched twice still read
    as two jobs in lists, the compare page and its legends."""
    when = timezone.localtime(job.queued_at).strftime("%Y-%m-%d %H:%M")
    return f"{method_label(method)} on {job.dataset_version}, {when} (#{job.pk})"


def _enqueue_after_commit(job_id: int, *, job: Job | None = None) -> None:
    """Send the job's message once committed. With the broker away the row stays QUEUED (it is saved,
    so a retrying client must not create it again) and the reaper's resend pass sends it once the
    broker is back; `job.sent_to_broker` tells the caller which happened."""
    from webapp.jobs.tasks import run_tuning_job  # tasks import services: import here, not at the top

    def send() -> None:
        try:
            needs_gpu = Job.objects.filter(pk=job_id).values_list("needs_gpu", flat=True).first()
            run_tuning_job.apply_async(args=[job_id], queue=job_queue(needs_gpu=bool(needs_gpu)))
        except Exception:  # noqa: BLE001 - kombu's connection errors vary with the transport
            log.warning("job %s: broker unreachable, its message will be sent again later", job_id, exc_info=True)
            if job is not None:
                job.sent_to_broker = False

    transaction.on_commit(send)


def _delete_checkpoint_after_commit(job_id: int) -> None:
    """The row that finished the job already names no checkpoint; its files go once that is committed."""
    from webapp.jobs.checkpoints import checkpoint_delete  # checkpoints import services

    transaction.on_commit(lambda: checkpoint_delete(job_id))


@transaction.atomic
def job_cancel(*, job: Job, user) -> Job:
    """A queued job that never tuned is cancelled at once (its message then finds nothing to claim).
    A running job is asked to stop, and its worker saves the best adapter so far at its next check;
    so is a queued one that holds a checkpoint (requeued after an error or a dead worker): the next
    worker resumes from it and stops at once, instead of the tuning done so far being thrown away."""
    require_write(user, job.workspace)
    now = timezone.now()
    cancelled = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED, checkpoint="").update(
        status=Job.Status.CANCELLED, cancel_requested=True, finished_at=now,
        error="Cancelled before it started; nothing was tuned.",
    )
    if not cancelled:
        Job.objects.filter(pk=job.pk, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(cancel_requested=True)
    job.refresh_from_db()
    return job


# ----------------------------------------------------------------------------------------- workers

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


def _append(text: str):
    return Concat(F("log"), Value(text), output_field=TextField())


def job_log_append(*, fence: Fence, text: str) -> None:
    fence.update(log=_append(text.rstrip("\n") + "\n"))


def job_fail(*, fence: Fence, reason: str, detail: str, worker_seconds: float = 0.0) -> bool:
    failed = fence.update(
        status=Job.Status.FAILED, error=reason, finished_at=timezone.now(), heartbeat_at=timezone.now(), checkpoint="",
        log=_append(detail.rstrip("\n") + "\n"), worker_seconds=F("worker_seconds") + worker_seconds,
    )
    if failed:
        job_notify_after_commit(fence.job_id)
    return failed


@transaction.atomic
def job_retry(*, fence: Fence, detail: str, worker_seconds: float = 0.0) -> bool:
    """Back to QUEUED after a transient error, keeping the checkpoint: the next attempt resumes from it.
    The reaper's JOB_MAX_ATTEMPTS bounds the retries, since every attempt counts."""
    if not fence.update(status=Job.Status.QUEUED, worker="", log=_append(detail.rstrip("\n") + "\n"),
                        worker_seconds=F("worker_seconds") + worker_seconds):
        return False
    _enqueue_after_commit(fence.job_id)
    return True


@transaction.atomic
def job_hand_back(*, fence: Fence, queries: int, worker_seconds: float = 0.0) -> bool:
    """Back to QUEUED at once because the worker is shutting down gracefully; the checkpoint saved as
    the tuner stopped is where the next worker resumes. Not a failure, and no stale timeout to wait for."""
    note = (f"[{timezone.now():%Y-%m-%d %H:%M:%S}] the worker is shutting down: the job was handed back at "
            f"{queries:,} queries and resumes from its checkpoint on the next free worker.\n")
    if not fence.update(status=Job.Status.QUEUED, worker="", log=_append(note),
                        worker_seconds=F("worker_seconds") + worker_seconds):
        return False
    _enqueue_after_commit(fence.job_id)
    return True


@transaction.atomic
def job_finish(*, fence: Fence, result, zero_shot: dict, tuned: dict, class_names: list[str], adapter_dir,
               worker_seconds: float, failure: str = "") -> Job | None:
    """COMPLETED (CANCELLED when the run was stopped, FAILED with the `failure` reason when it ended
    on an error and this is the best adapter found until then) with evaluations and a new adapter version,
    all in one transaction with the fenced status change: a job is never shown finished without its
    adapter, nor does an adapter appear for a job this worker no longer owned."""
    from webapp.adapters.services import adapter_version_create_from_job
    from webapp.jobs.quality import validation_verdict

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


def worker_status_check_in(*, hostname: str, queues: list[str], kind: str | None = None) -> None:
    """A worker's sign of life, with the queues it consumes (see webapp/core/checkin.py)."""
    stopping = {} if queues else {"backbone_loaded": ""}  # a stopped worker holds no backbone
    WorkerStatus.objects.update_or_create(hostname=hostname, defaults={
        "last_seen": timezone.now(), "kind": kind or settings.WORKER_KIND, **stopping,
        "queues": "".join(f",{queue}" for queue in sorted(queues)) + ("," if queues else "")})


def worker_status_backbone_loaded(*, hostname: str, backbone: str) -> None:
    """The backbone a worker process holds in memory now (the next job on it starts without loading)."""
    WorkerStatus.objects.filter(hostname=hostname).update(backbone_loaded=backbone)


def worker_status_record_rate(*, backbone: str, class_prompts_per_second: float | None = None,
                              sparse_units_per_second: float | None = None, seconds_per_image: float | None = None,
                              hostname: str | None = None, kind: str | None = None) -> WorkerStatus:
    """Fold a finished job's measured figures (see webapp/jobs/estimates.py) into this worker's figures
    for that backbone; a figure left out keeps its value."""
    hostname = hostname or socket.gethostname()
    figures = {"queries_per_second": class_prompts_per_second, "sparse_units_per_second": sparse_units_per_second,
               "seconds_per_image": seconds_per_image}
    with transaction.atomic():
        status, _ = WorkerStatus.objects.select_for_update().get_or_create(
            hostname=hostname, defaults={"last_seen": timezone.now(), "kind": kind or settings.WORKER_KIND})
        for field_name, value in figures.items():
            if value is None:
                continue
            rates = dict(getattr(status, field_name) or {})
            old = rates.get(backbone)
            rates[backbone] = round(value if not old else RATE_SMOOTHING * value + (1 - RATE_SMOOTHING) * float(old), 4)
            setattr(status, field_name, rates)
        status.kind = kind or settings.WORKER_KIND
        status.last_seen = timezone.now()
        status.full_clean()
        status.save()
    return status


# ------------------------------------------------------------------------------------------ reaper

@dataclass
class ReaperReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


def jobs_resend_lost_messages(*, now=None, queue: str | None = None) -> list[int]:
    """Queued jobs whose message is no longer in the broker (a Redis restarted without persistence,
    or emptied) get it sent again, with a line in their log, so that no job shows "queued" with
    nothing behind it. Only jobs queued for JOB_RESEND_AFTER_SECONDS are looked at, so a message on
    its way is not doubled; a double would be harmless anyway, since only one delivery can claim."""
    from webapp.jobs.broker import tuning_jobs_with_a_message

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_RESEND_AFTER_SECONDS)
    # Oldest first, as they were first sent: the broker then serves them in the order the queue positions show.
    waiting = list(Job.objects.filter(status=Job.Status.QUEUED, queued_at__lt=cutoff).order_by("queued_at", "pk")
                   .values_list("pk", flat=True))
    found = [tuning_jobs_with_a_message(name) for name in ([queue] if queue else tuning_queues())] if waiting else [None]
    if None in found:  # nothing waiting, or the broker cannot be read: conclude nothing
        return []
    present = set().union(*found)
    note = (f"[{now:%Y-%m-%d %H:%M:%S}] its message was missing from the broker (was Redis restarted or "
            "emptied?); it was sent again.\n")
    resent = []
    for job_id in waiting:
        if job_id in present:
            continue
        with transaction.atomic():
            if Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(log=_append(note)):
                resent.append(job_id)
                _enqueue_after_commit(job_id)
    if resent:
        log.warning("queued jobs without a broker message, sent again: %s", resent)
    return resent


def jobs_requeue_stale(*, now=None) -> ReaperReport:
    """Running jobs whose worker stopped sending heartbeats (killed, powered off, frozen): requeue them
    to resume from their last checkpoint, or fail them after JOB_MAX_ATTEMPTS, so that no job stays
    shown as running with no worker behind it."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    report = ReaperReport()
    stale = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).values_list(
        "pk", "attempts", "cancel_requested", "worker")
    for job_id, attempts, cancel_requested, worker in stale:
        # Conditional on the same attempt still being stale: a heartbeat that arrives meanwhile wins.
        same = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, attempts=attempts, heartbeat_at__lt=cutoff)
        note = f"[{now:%Y-%m-%d %H:%M:%S}] worker {worker or '?'} stopped responding during attempt {attempts}.\n"
        if cancel_requested:
            if same.update(status=Job.Status.CANCELLED, finished_at=now, log=_append(note), checkpoint="",
                           error="Cancelled. The worker stopped responding before it could save an adapter."):
                report.cancelled.append(job_id)
                _delete_checkpoint_after_commit(job_id)
        elif attempts >= settings.JOB_MAX_ATTEMPTS:
            reason = (f"The worker running this job stopped responding {attempts} times, so it was not started "
                      "again. Check the workers (memory, power, logs) and launch the job again.")
            if same.update(status=Job.Status.FAILED, finished_at=now, error=reason, log=_append(note), checkpoint=""):
                report.failed.append(job_id)
                _delete_checkpoint_after_commit(job_id)
                job_notify_after_commit(job_id)
        else:
            with transaction.atomic():
                if same.update(status=Job.Status.QUEUED, worker="",
                               log=_append(note + "  Requeued; it resumes from its last checkpoint.\n")):
                    report.requeued.append(job_id)
                    _enqueue_after_commit(job_id)
    if report.requeued or report.failed or report.cancelled:
        log.warning("stale jobs: requeued %s, failed %s, cancelled %s", report.requeued, report.failed, report.cancelled)
    return report
