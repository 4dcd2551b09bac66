"""Run-time and cost estimates before launch, from what workers measured of themselves: the figures the
time model (webapp/jobs/time_model.py) needs, read from WorkerStatus.timings, per backbone and kind of
worker. A worker measures them when it starts, so the form is right before any job has finished; each
finished job refines them. Before any worker of that kind has measured, a default is used and said.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings

from webapp.core.cost import worker_cost
from webapp.core.numbers import human_duration
from webapp.integrations.tuning import prompt_tokens_estimate
from webapp.jobs.models import Job, WorkerStatus
from webapp.jobs.time_model import Figures, JobTime, Workload, job_time, queries_in

__all__ = ["Estimate", "Workload", "job_estimate", "job_time_of", "queries_for_minutes", "workload_of"]


def workload_of(*, method: str, queries: int, num_classes: int, num_images: int = 0, adapt: str = "prompt",
                shots: int = 0, param_budget: float = 0.0, backbone: str | None = None,
                dataset_version_id: int | None = None, class_names=(), ctx_init: str | None = None) -> Workload:
    """A job's workload from its settings. Only a sparse adapter that changes image weights runs its training
    split (up to `shots` images a class) through the image tower each query. With `backbone`, start-up leaves
    out what a worker has already done: the backbone a worker holds, the features a finished job encoded.
    `class_names` (and the context phrase) give the prompts' length, which a query's cost grows with."""
    image_delta = adapt == "sparse" and (param_budget or 0) > 0
    train = min(shots * num_classes, num_images or shots * num_classes) if image_delta else 0
    held = encoded = False
    if backbone:
        held = WorkerStatus.objects.filter(kind=settings.WORKER_KIND, backbone_loaded=backbone).exists()
        encoded = dataset_version_id is not None and Job.objects.filter(
            dataset_version_id=dataset_version_id, backbone=backbone, status=Job.Status.COMPLETED).exists()
    return Workload(method=method, queries=queries, num_classes=num_classes, num_images=0 if encoded else num_images,
                    train_images=train, load_backbone=not held,
                    prompt_tokens=prompt_tokens_estimate(class_names, ctx_init))


@dataclass(frozen=True)
class Estimate:
    seconds: float
    cost: float
    currency: str
    measured: bool
    basis: str  # where the figures come from, in words
    startup_seconds: float = 0.0
    tuning_seconds: float = 0.0
    finishing_seconds: float = 0.0
    query_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "duration": human_duration(self.seconds),
                "cost_text": f"{self.cost:.2f} {self.currency}"}


def worker_figures(backbone: str, kind: str) -> list[Figures]:
    rows = WorkerStatus.objects.filter(kind=kind).values_list("timings", flat=True)
    return [Figures.from_record(r[backbone], kind) for r in rows if isinstance(r, dict) and r.get(backbone)]


def _median_worker(backbone: str, kind: str, workload: Workload) -> tuple[Figures, int]:
    """The figures of the median worker for this workload (one unusually fast or slow machine does not
    swing it), and how many workers measured; the default figures when none has."""
    measured = worker_figures(backbone, kind)
    if not measured:
        return Figures.default(kind), 0
    ranked = sorted(measured, key=lambda figures: job_time(figures, workload).seconds)
    return ranked[(len(ranked) - 1) // 2], len(ranked)


def job_time_of(*, backbone: str, workload: Workload, kind: str | None = None) -> JobTime:
    figures, _ = _median_worker(backbone, kind or settings.WORKER_KIND, workload)
    return job_time(figures, workload)


def _basis(figures: Figures, workers: int, kind: str, workload: Workload, time: JobTime) -> str:
    if not workers:
        return (f"No {kind} worker has measured this backbone yet, so this uses defaults for a small CPU; a worker "
                "measures itself when it starts, and the estimate follows.")
    source = (f"Measured by {workers} {kind} worker{'s' if workers != 1 else ''} "
              f"when {'they' if workers != 1 else 'it'} started")
    if figures.jobs:
        source += f", refined by {figures.jobs} finished job{'s' if figures.jobs != 1 else ''}"
    parts = [f"{time.query_s:.3g} s a query at {workload.num_classes} classes"
             + ("" if time.measured else " (this method not measured yet: its slowest measured method's figure)")]
    if workload.load_backbone:
        parts.append(f"{human_duration(figures.load_s)} to load the backbone")
    if workload.num_images:
        parts.append(f"{workload.num_images:,} images to encode at {figures.image_s:.2g} s each")
    parts.append(f"{human_duration(figures.overhead_s)} to evaluate and store the adapter")
    return f"{source}: {', '.join(parts)}."


def job_estimate(*, backbone: str, workload: Workload, kind: str | None = None) -> Estimate:
    kind = kind or settings.WORKER_KIND
    figures, workers = _median_worker(backbone, kind, workload)
    time = job_time(figures, workload)
    return Estimate(seconds=round(time.seconds, 1), cost=round(worker_cost(time.seconds), 4),
                    currency=settings.COST_CURRENCY, measured=bool(workers) and time.measured,
                    basis=_basis(figures, workers, kind, workload, time), startup_seconds=round(time.startup_s, 1),
                    tuning_seconds=round(time.tuning_s, 1), finishing_seconds=round(time.finishing_s, 1),
                    query_seconds=round(time.query_s, 5))


def queries_for_minutes(minutes: int, *, backbone: str, workload: Workload, kind: str | None = None) -> int:
    """The most queries a job with this workload (its `queries` aside) can spend in `minutes` of worker time,
    by the same model as job_estimate. ValueError, with a sentence for the engineer, when start-up and
    finishing alone take longer."""
    figures, _ = _median_worker(backbone, kind or settings.WORKER_KIND, workload)
    queries = queries_in(figures, workload, minutes * 60)
    if queries < 1:
        raise ValueError(f"{minutes} minutes are not enough: loading the backbone, encoding the dataset's "
                         f"{workload.num_images:,} images and evaluating the adapter alone take longer on this worker.")
    return queries
