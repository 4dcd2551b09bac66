"""When a queued job should start: the jobs ahead of it in the shared tuning queue, played out on the
workers that are busy now (at least one), each job taking its estimate (webapp.jobs.estimates) and a
running job its own measured time left. A rough forecast for planning, said as one."""

from __future__ import annotations

import heapq

from django.db.models import Q

from webapp.integrations.tuning import queries_to_spend
from webapp.jobs.estimates import Workload, job_estimate, workload_of
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


def job_workload(job: Job, queries: int) -> Workload:
    """What `queries` more queries of this job, and (while it has not started) the work on its images, cost."""
    counts = job.dataset_version.class_counts or {}
    return workload_of(queries=max(queries, 0), num_classes=len(counts),
                       num_images=sum(counts.values()) if job.status == Job.Status.QUEUED else 0,
                       adapt=(job.config or {}).get("adapt", "prompt"), shots=job.shots)


def _estimated_seconds(job: Job, cache: dict) -> float:
    """A queued job: its whole estimate; a running one without a rate of its own: its queries left."""
    workload = job_workload(job, queries_to_spend(job.method, job.budget) - job.queries_used)
    key = (job.backbone, workload)
    if key not in cache:
        cache[key] = job_estimate(backbone=job.backbone, workload=workload).seconds
    return cache[key]


def job_start_in_seconds(job: Job) -> float | None:
    """Seconds until this queued job should start; None when it is not queued."""
    from webapp.jobs.selectors import job_eta_seconds

    if job.status != Job.Status.QUEUED:
        return None
    cache: dict = {}
    running = list(Job.objects.filter(status=Job.Status.RUNNING).select_related("dataset_version"))
    # When each busy worker is free again; with none busy, one idle worker takes the queue.
    free_at = [_first_known(job_eta_seconds(r), lambda r=r: _estimated_seconds(r, cache)) for r in running] or [0.0]
    heapq.heapify(free_at)
    for queued in jobs_ahead(job).select_related("dataset_version").order_by("queued_at", "pk"):
        heapq.heappush(free_at, heapq.heappop(free_at) + _estimated_seconds(queued, cache))
    return free_at[0]


def _first_known(value: float | None, otherwise) -> float:
    return value if value is not None else otherwise()
