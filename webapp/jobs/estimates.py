"""Run-time and cost estimates before launch, from the throughput workers measured on real jobs.

A query sends one prompt per class through the text tower, so its cost grows with the number of
classes K. Workers therefore record *class-prompts per second* (queries x K / tuning seconds) per
backbone in `WorkerStatus.queries_per_second`, and an estimate divides budget x K by that rate.
Before any job has run on a backbone we use a deliberately low default and say so.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from django.conf import settings

from webapp.jobs.models import WorkerStatus

# Class-prompts per second assumed before anything is measured: below what the demo backbone did on
# a 2-core CPU shared with other work (about 9/s), so a first estimate errs on the long side.
DEFAULT_RATES = {"cpu": 5.0, "gpu": 200.0}
FALLBACK_RATE = 5.0


@dataclass(frozen=True)
class Estimate:
    seconds: float
    cost: float
    currency: str
    rate: float  # class-prompts per second used
    measured: bool
    basis: str  # one sentence saying where the rate comes from

    def as_dict(self) -> dict:
        return {**asdict(self), "duration": human_duration(self.seconds), "cost_text": f"{self.cost:.2f} {self.currency}"}


def measured_rates(backbone: str, kind: str) -> list[float]:
    rows = WorkerStatus.objects.filter(kind=kind).values_list("queries_per_second", flat=True)
    return [float(r[backbone]) for r in rows if isinstance(r, dict) and r.get(backbone)]


def job_estimate(*, backbone: str, budget: int, num_classes: int, kind: str | None = None) -> Estimate:
    kind = kind or settings.WORKER_KIND
    rates = measured_rates(backbone, kind)
    if rates:
        # The median worker: one unusually fast or slow machine does not swing the estimate.
        rate = statistics.median(rates)
        basis = (f"Measured on {len(rates)} {kind} worker{'s' if len(rates) != 1 else ''} from finished jobs "
                 f"with this backbone ({rate:.0f} class prompts per second).")
        measured = True
    else:
        rate = DEFAULT_RATES.get(kind, FALLBACK_RATE)
        basis = (f"No job has finished with this backbone on a {kind} worker yet, so this uses a cautious "
                 f"default of {rate:.0f} class prompts per second; it will be measured after the first job.")
        measured = False
    seconds = budget * max(num_classes, 1) / rate
    cost = seconds / 3600.0 * settings.COST_PER_WORKER_HOUR
    return Estimate(seconds=round(seconds, 1), cost=round(cost, 4), currency=settings.COST_CURRENCY, rate=rate,
                    measured=measured, basis=basis)


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if minutes < 10 and seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
