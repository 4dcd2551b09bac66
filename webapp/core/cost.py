"""What worker time costs: the one formula behind job estimates, job results and the reports."""

from __future__ import annotations

from typing import overload

from django.conf import settings


@overload
def worker_cost(worker_seconds: float) -> float: ...


@overload
def worker_cost(worker_seconds: None) -> None: ...


def worker_cost(worker_seconds: float | None) -> float | None:
    """worker-seconds / 3600 * COST_PER_WORKER_HOUR (settings.COST_CURRENCY); None when unknown."""
    if worker_seconds is None:
        return None
    return worker_seconds / 3600 * settings.COST_PER_WORKER_HOUR
