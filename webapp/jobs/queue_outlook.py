"""When a queued job should start: the jobs ahead of it in the shared tuning queue, played out on the
workers that are busy now (at least one), each job taking the time model's estimate (webapp/jobs/time_model.py)
and a running job its own time left (webapp.jobs.selectors.job_eta_seconds); a job behind another on the same
images and backbone finds their features encoded. A rough forecast for planning, said as one."""

from __future__ import annotations

import heapq
from dataclasses import replace

from django.db.models import Q

from webapp.integrations.tuning import queries_to_spend
from webapp.jobs.estimates import Workload, job_time_of, workload_of
from webapp.jobs.models import Job


def jobs_ahead(job: Job):
    """The queued jobs before this one in the shared tuning queue (requeued jobs keep their original place,
    roughly as Redis does)."""
    return Job.objects.filter(status=Job.Status.QUEUED).filter(
        Q(queued_at__lt=job.queued_at) | Q(queued_at=job.queued_at, pk__lt=job.pk))


def job_queue_others_ahead(job: Job) -> int:
    """How many of the jobs ahead belong to other workspaces (the user cannot see those)."""
    if job.status != Job.Status.QUEUED:
        return 0
    return jobs_ahead(job).exclude(workspace_id=job.workspace_id).count()


def job_workload(job: Job, queries: int | None = None) -> Workload:
    """What `queries` more queries of this job cost (all it will spend when None), with its start-up while it
    has not started."""
    counts = job.dataset_version.class_counts or {}
    config = job.config or {}
    if queries is None:
        queries = queries_to_spend(job.method, job.budget)
    queued = job.status == Job.Status.QUEUED
    return workload_of(method=job.method, queries=max(queries, 0), num_classes=len(counts),
                       num_images=sum(counts.values()), adapt=config.get("adapt", "prompt"), shots=job.shots,
                       param_budget=config.get("param_budget") or 0.0, backbone=job.backbone if queued else None,
                       dataset_version_id=job.dataset_version_id, class_names=list(counts),
                       ctx_init=config.get("ctx_init"))


def job_model_seconds(job: Job, cache: dict | None = None, *, features_cached: bool = False) -> float:
    """The model's whole time for this job (start-up, tuning, finishing), as the form estimated it.
    `features_cached`: a job before it in the queue encodes the same images on the same backbone."""
    workload = job_workload(job)
    if features_cached:
        workload = replace(workload, num_images=0)
    key = (job.backbone, workload)
    cache = {} if cache is None else cache
    if key not in cache:
        cache[key] = job_time_of(backbone=job.backbone, workload=workload).seconds
    return cache[key]


def job_start_in_seconds(job: Job) -> float | None:
    """Seconds until this queued job should start; None when it is not queued. A job never waits for
    itself: a page read as the worker claims it may see it queued here and running in the database."""
    from webapp.jobs.selectors import job_eta_seconds

    if job.status != Job.Status.QUEUED:
        return None
    cache: dict = {}
    running = list(Job.objects.filter(status=Job.Status.RUNNING).exclude(pk=job.pk).select_related("dataset_version"))
    # When each busy worker is free again; with none busy, one idle worker takes the queue.
    free_at = [job_eta_seconds(r) or 0.0 for r in running] or [0.0]
    heapq.heapify(free_at)
    # Image features are cached per backbone: only the first job on a dataset encodes its images.
    encoded = {(r.dataset_version_id, r.backbone) for r in running}
    for queued in jobs_ahead(job).select_related("dataset_version").order_by("queued_at", "pk"):
        images = (queued.dataset_version_id, queued.backbone)
        seconds = job_model_seconds(queued, cache, features_cached=images in encoded)
        heapq.heappush(free_at, heapq.heappop(free_at) + seconds)
        encoded.add(images)
    return free_at[0]
