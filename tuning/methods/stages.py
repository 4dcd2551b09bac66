"""The stages a run goes through, named once: the `stage` of every metric point the tuner emits and
the phase a checkpoint resumes in; and the metric point itself (`MetricPointDict`), typed once for the tuner,
the worker that stores the points and the pages that draw them.

One stage used to have several names: the CMA-ES stage was 'cmaes' in metric points and 'stage1' in
checkpoints, the ZO-SGD stage 'zo' and 'stage2'. The metric names are kept (they are stored in job
rows and published by the API) and `Stage.read` maps the old checkpoint names, so a checkpoint
written before still resumes. A `Stage` is a str enum: Stage.ZO == "zo".
Light on purpose (no torch).
"""
from __future__ import annotations

from enum import StrEnum
from typing import TypedDict


class Stage(StrEnum):
    ZERO_SHOT = "zeroshot"  # the untuned model, evaluated once before any method runs
    CMAES = "cmaes"  # CMA-ES over w: SharpZO's first stage (sharpness-aware), or the whole of method cmaes
    ZO = "zo"  # ZO-SGD steps: SharpZO's second stage (sparse), or the whole of method zosgd
    COOP = "coop"  # the CoOp baseline's backpropagation steps
    PROBE = "probe"  # one linear-probe fit per L2 strength
    CACHE = "cache"  # the Tip-Adapter cache, chosen on validation

    @classmethod
    def read(cls, name: str) -> "Stage | str":
        """The stage a recorded name means, old names included; a name that is no stage (a checkpoint's
        'start', 'started' or 'done') comes back as it is."""
        name = _OLD_NAMES.get(name, name)
        try:
            return cls(name)
        except ValueError:
            return name


_OLD_NAMES = {"stage1": Stage.CMAES.value, "stage2": Stage.ZO.value}  # checkpoint phases before Stage


class MetricPointDict(TypedDict):
    """One point of a run's curves, as `tune(on_metrics=...)` receives it."""

    step: int
    stage: str  # a Stage's value
    stage_started: bool  # True on the first point of a stage (a reader sees where a stage switch happened)
    queries: int  # spent so far
    train_loss: float | None
    val_acc: float | None
    sharpness: float | None  # L(w + eps*) - L(w), where the stage measures it
    sparsity: float | None  # share of w's coordinates the mask freezes; adapt='sparse': of the image tower unchanged
    params_changed: int | None  # adapt='sparse': image-tower parameters the delta changes
    elapsed_s: float  # the run's seconds so far


CURVES = tuple(name for name in MetricPointDict.__annotations__ if name != "stage_started")  # what is stored and drawn
