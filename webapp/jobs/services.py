"""Writes for jobs from the web side: create and cancel. The transitions a worker and the reaper make
are the worker runtime's (webapp/worker/fence.py, webapp/worker/reaper.py)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from webapp.accounts.access import require_write
from webapp.datasets.models import DatasetVersion
from webapp.integrations.tuning import (
    ConfigError,
    TuneConfig,
    method_label,
    sensitivity_groups,
    tune_config,
)
from webapp.jobs.bounds import budget_minimum, sparse_image_blocks
from webapp.jobs.models import Job
from webapp.jobs.queues import job_send_after_commit

MAIN_FIELDS = ("method", "backbone", "budget", "shots", "seed")


def tune_config_from(values: dict, num_classes: int | None = None) -> TuneConfig:
    """A validated tuning.TuneConfig, or a ValidationError on the setting the tuner complained about: the
    edge (the launch form, which the API uses too) calls this once, and services take its result.
    num_classes: the dataset's class count, which sizes a sparse job's linear head (minimum_budget)."""
    try:
        cfg = tune_config(values)
    except ConfigError as exc:
        raise ValidationError({exc.field or "__all__": str(exc)}) from exc
    # A smaller budget would only return the zero-shot adapter after a worker's start-up (or, for sparse
    # adapters, place the image delta without its sensitivity probes).
    minimum = budget_minimum(cfg, num_classes=num_classes)
    if cfg.budget < minimum:
        groups = sensitivity_groups(cfg, sparse_image_blocks(cfg))
        probes = (f", including one sensitivity probe of each of the image model's {groups} parameter groups"
                  if groups else "")
        raise ValidationError({"budget": f"A budget of {cfg.budget:,} queries is too small to tune anything: "
                                         f"{cfg.method} needs at least {minimum:,} queries with these "
                                         f"settings{probes}."})
    return cfg


@transaction.atomic
def job_create(*, user, dataset_version: DatasetVersion, config: TuneConfig, name: str = "",
               model_line_name: str = "", needs_gpu: bool = False) -> Job:
    """Record a QUEUED job and send `run_tuning_job(job_id)` to its tuning queue once committed (the GPU
    queue, which only GPU workers consume, when it asks for a GPU). `config` was checked at the edge
    (JobCreateForm: the settings and the dataset version's shots)."""
    workspace = dataset_version.dataset.workspace
    require_write(user, workspace)
    cfg = config
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
    job_send_after_commit(job.pk, job=job)
    return job


def automatic_job_name(job: Job, method: str) -> str:
    """'SharpZO on scratches v2, 2026-11-27 14:05 (#41)': the same settings launched twice still read
    as two jobs in lists, the compare page and its legends."""
    when = timezone.localtime(job.queued_at).strftime("%Y-%m-%d %H:%M")
    return f"{method_label(method)} on {job.dataset_version}, {when} (#{job.pk})"


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

