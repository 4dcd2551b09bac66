"""Run-time and cost estimates before launch, from what workers measured on real jobs.

A job's time is its tuning (queries) plus the work on its images outside tuning: each image of the
dataset version is encoded once, the test images are classified twice (zero-shot and tuned). So
an estimate adds two measured parts, both per backbone and per kind of worker:

- tuning: a prompt-only query sends one prompt per class through the text tower, so it costs K
  *class prompts*; workers record class prompts per second (`WorkerStatus.class_prompts_per_second`).
  A sparse-adapter query (adapt='sparse') also runs each training image through the tuned image
  blocks, so it costs K + (training images) *units*; workers record units per second from
  sparse-adapter jobs (`WorkerStatus.sparse_units_per_second`). The sensitivity probes are queries of
  the budget, so they are in it.
- images: the job's worker time outside tuning, per image of the dataset (`WorkerStatus.seconds_per_image`).

Before anything is measured a deliberately cautious default is used, and the basis says so.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from django.conf import settings

from webapp.core.cost import worker_cost
from webapp.core.numbers import human_duration
from webapp.jobs.models import WorkerStatus

# Class-prompts per second assumed before anything is measured: below what the demo backbone did on
# a 2-core CPU shared with other work (about 9/s), so a first estimate errs on the long side.
DEFAULT_RATES = {"cpu": 5.0, "gpu": 200.0}
FALLBACK_RATE = 5.0
# Seconds per dataset image outside tuning (encoding it, classifying the test images), cautious.
DEFAULT_SECONDS_PER_IMAGE = {"cpu": 0.05, "gpu": 0.005}
FALLBACK_SECONDS_PER_IMAGE = 0.05


@dataclass(frozen=True)
class Workload:
    """What a job will do, in the units the rates are measured in."""

    queries: int  # what the method will spend of its budget (tuning.config.queries_to_spend)
    num_classes: int
    num_images: int = 0  # all images of the dataset version
    train_images: int = 0  # adapt='sparse': images each query runs through the tuned image blocks; else 0

    @property
    def sparse(self) -> bool:
        return self.train_images > 0

    @property
    def units_per_query(self) -> int:
        return max(self.num_classes, 1) + self.train_images


def workload_of(*, queries: int, num_classes: int, num_images: int = 0, adapt: str = "prompt",
                shots: int = 0) -> Workload:
    """A job's workload from its settings: a sparse adapter's training split holds up to `shots` images per class."""
    train = min(shots * num_classes, num_images or shots * num_classes) if adapt == "sparse" else 0
    return Workload(queries=queries, num_classes=num_classes, num_images=num_images, train_images=train)


@dataclass(frozen=True)
class Estimate:
    seconds: float
    cost: float
    currency: str
    rate: float  # class prompts (prompt-only) or units (sparse adapters) per second used
    measured: bool
    basis: str  # where the figures come from, in words
    tuning_seconds: float = 0.0
    image_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "duration": human_duration(self.seconds),
                "cost_text": f"{self.cost:.2f} {self.currency}"}


def _measured(field: str, backbone: str, kind: str) -> list[float]:
    rows = WorkerStatus.objects.filter(kind=kind).values_list(field, flat=True)
    return [float(r[backbone]) for r in rows if isinstance(r, dict) and r.get(backbone)]


def measured_rates(backbone: str, kind: str) -> list[float]:
    return _measured("class_prompts_per_second", backbone, kind)


def _workers(n: int, kind: str) -> str:
    return f"{n} {kind} worker{'s' if n != 1 else ''}"


def _tuning_rate(backbone: str, kind: str, sparse: bool) -> tuple[float, bool, str]:
    """(rate, measured, sentence): the median worker, so one unusually fast or slow machine does not swing it."""
    prompt_rates = measured_rates(backbone, kind)
    if sparse:
        rates = _measured("sparse_units_per_second", backbone, kind)
        if rates:
            rate = statistics.median(rates)
            return rate, True, (f"Tuning: measured on {_workers(len(rates), kind)} from finished sparse-adapter jobs "
                                f"with this backbone ({rate:.0f} class prompts or training images per second).")
        rate = statistics.median(prompt_rates) if prompt_rates else DEFAULT_RATES.get(kind, FALLBACK_RATE)
        return rate, False, (f"Tuning: no sparse-adapter job has finished with this backbone on a {kind} worker yet, "
                             f"so each training image a query runs through the image model is counted like one class "
                             f"prompt at {rate:.0f} per second{'' if prompt_rates else ', a cautious default'}; "
                             "it will be measured after the first one.")
    if prompt_rates:
        rate = statistics.median(prompt_rates)
        return rate, True, (f"Measured on {_workers(len(prompt_rates), kind)} from finished jobs with this backbone "
                            f"({rate:.0f} class prompts per second).")
    rate = DEFAULT_RATES.get(kind, FALLBACK_RATE)
    return rate, False, (f"No job has finished with this backbone on a {kind} worker yet, so this uses a cautious "
                         f"default of {rate:.0f} class prompts per second; it will be measured after the first job.")


def _seconds_per_image(backbone: str, kind: str) -> tuple[float, str]:
    measured = _measured("seconds_per_image", backbone, kind)
    if measured:
        return statistics.median(measured), "measured"
    return DEFAULT_SECONDS_PER_IMAGE.get(kind, FALLBACK_SECONDS_PER_IMAGE), "a cautious default"


def job_estimate(*, backbone: str, workload: Workload, kind: str | None = None) -> Estimate:
    kind = kind or settings.WORKER_KIND
    rate, measured, basis = _tuning_rate(backbone, kind, workload.sparse)
    tuning_seconds = workload.queries * workload.units_per_query / rate
    image_seconds = 0.0
    if workload.num_images:
        per_image, source = _seconds_per_image(backbone, kind)
        image_seconds = workload.num_images * per_image
        basis += (f" Images: {workload.num_images:,} at {per_image:.2g} s each ({source}) to read, encode and "
                  f"classify them.")
    seconds = tuning_seconds + image_seconds
    cost = worker_cost(seconds)
    return Estimate(seconds=round(seconds, 1), cost=round(cost, 4), currency=settings.COST_CURRENCY, rate=rate,
                    measured=measured, basis=basis, tuning_seconds=round(tuning_seconds, 1),
                    image_seconds=round(image_seconds, 1))


def queries_for_minutes(minutes: int, *, backbone: str, workload: Workload, kind: str | None = None) -> int:
    """The most queries a job with this workload (its `queries` aside) can spend in `minutes` of worker
    time at the rates job_estimate uses: a budget given in minutes, in the tuner's unit. ValueError, with
    a sentence for the engineer, when reading the images alone takes longer."""
    kind = kind or settings.WORKER_KIND
    rate, _, _ = _tuning_rate(backbone, kind, workload.sparse)
    per_image, _ = _seconds_per_image(backbone, kind)
    queries = int((minutes * 60 - workload.num_images * per_image) * rate / workload.units_per_query)
    if queries < 1:
        raise ValueError(f"{minutes} minutes are not enough: reading and encoding the dataset's "
                         f"{workload.num_images:,} images alone takes longer at the measured rate.")
    return queries
