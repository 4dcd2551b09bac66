"""The stages a run goes through, named once: the `stage` of every metric point the tuner emits and
the phase a checkpoint resumes in.

One stage used to have several names: the CMA-ES stage was 'cmaes' in metric points and 'stage1' in
checkpoints, the ZO-SGD stage 'zo' and 'stage2'. The metric names are kept (they are stored in job
rows and published by the API) and `Stage.read` maps the old checkpoint names, so a checkpoint
written before still resumes. A `Stage` is a str enum: Stage.ZO == "zo".
Light on purpose (no torch).
"""
from __future__ import annotations

from enum import StrEnum


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
