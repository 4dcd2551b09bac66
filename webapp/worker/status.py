"""A worker's own row in WorkerStatus: its sign of life and queues, the backbone it holds, and the figures it
measured of itself (read by webapp/jobs/estimates.py and the health checks). Only workers write these rows."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.jobs.models import WorkerStatus

RATE_SMOOTHING = 0.5  # weight of the newest job in a worker's measured figures


def worker_status_seen(*, hostname: str) -> None:
    """A worker's sign of life alone, from the check-in task that the health check sends (the queues it
    consumes are its check-in thread's to say)."""
    WorkerStatus.objects.update_or_create(
        hostname=hostname, defaults={"last_seen": timezone.now(), "kind": settings.WORKER_KIND}
    )


def worker_status_check_in(*, hostname: str, queues: list[str], kind: str | None = None) -> None:
    """A worker's sign of life, with the queues it consumes (see webapp/worker/checkin.py)."""
    stopping = {} if queues else {"backbone_loaded": ""}  # a stopped worker holds no backbone
    WorkerStatus.objects.update_or_create(hostname=hostname, defaults={
        "last_seen": timezone.now(), "kind": kind or settings.WORKER_KIND, **stopping,
        "queues": "".join(f",{queue}" for queue in sorted(queues)) + ("," if queues else "")})


def worker_status_backbone_loaded(*, hostname: str, backbone: str) -> None:
    """The backbone a worker process holds in memory now (the next job on it starts without loading)."""
    WorkerStatus.objects.filter(hostname=hostname).update(backbone_loaded=backbone)


def worker_status_backbones_available(*, hostname: str, backbones: list[dict]) -> None:
    """The real backbones a worker can run (webapp.integrations.tuning.backbones.runnable_backbones)."""
    WorkerStatus.objects.filter(hostname=hostname).update(backbones_available=backbones)


def _update_timings(hostname: str, backbone: str, change) -> WorkerStatus:
    """Apply `change(figures: dict)` to this worker's figures for the backbone, under a row lock."""
    with transaction.atomic():
        status, _ = WorkerStatus.objects.select_for_update().get_or_create(
            hostname=hostname, defaults={"last_seen": timezone.now(), "kind": settings.WORKER_KIND})
        timings = dict(status.timings or {})
        figures = dict(timings.get(backbone) or {})
        change(figures)
        timings[backbone] = figures
        WorkerStatus.objects.filter(pk=status.pk).update(timings=timings, kind=settings.WORKER_KIND)
        status.timings = timings
    return status


def worker_status_record_timings(*, hostname: str, backbone: str, load_s: float | None = None,
                                 image_s: float | None = None, overhead_s: float | None = None,
                                 query_s: dict | None = None, prompt_tokens: int | None = None) -> WorkerStatus:
    """What a worker measured of itself when it started (webapp/worker/self_measure.py); a figure left out
    keeps its value. `prompt_tokens`: the class prompts' length the query figures were measured at."""
    def change(figures: dict) -> None:
        measured = (("load_s", load_s), ("image_s", image_s), ("overhead_s", overhead_s),
                    ("prompt_tokens", prompt_tokens))
        figures.update({name: value for name, value in measured if value is not None})
        figures["query_s"] = {**figures.get("query_s", {}), **(query_s or {})}

    return _update_timings(hostname, backbone, change)


def worker_status_refine_timings(*, hostname: str, backbone: str, key: str, query_s: float | None, run_s: float,
                                 num_classes: int, train_images: int = 0, prompt_tokens: int = 0,
                                 load_s: float | None = None, image_s: float | None = None,
                                 overhead_s: float | None = None) -> WorkerStatus:
    """Fold a finished job's measured figures into this worker's: its method's figures (time_model.query_key)
    move toward the job's seconds a query and seconds beyond its queries, and the start-up and finishing
    figures toward the job's. A sparse adapter that changes image weights ran `train_images` images a query:
    the model adds those itself, as it scales the prompts' part by the job's `prompt_tokens`."""
    from webapp.jobs.time_model import prompt_length_ratio, refined_line

    def smooth(old, new: float) -> float:
        return round(new if old is None else RATE_SMOOTHING * new + (1 - RATE_SMOOTHING) * float(old), 5)

    def change(figures: dict) -> None:
        for name, value in (("load_s", load_s), ("image_s", image_s), ("overhead_s", overhead_s)):
            if value is not None:
                figures[name] = smooth(figures.get(name), value)
        prompts_s = None
        if query_s is not None:
            prompts_s = max(query_s - train_images * float(figures.get("image_s", 0.0)), query_s / 10)
        lines = dict(figures.get("query_s") or {})
        ratio = prompt_length_ratio(int(figures.get("prompt_tokens", 0)), prompt_tokens)
        lines[key] = refined_line(lines.get(key), observed_s=prompts_s, run_s=run_s, num_classes=num_classes,
                                  smoothing=RATE_SMOOTHING, length_ratio=ratio)
        figures["query_s"] = lines
        figures["jobs"] = int(figures.get("jobs", 0)) + 1

    return _update_timings(hostname, backbone, change)
