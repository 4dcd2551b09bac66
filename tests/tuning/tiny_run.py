"""What the tuning tests share: the repository root and a small, fast TuneConfig for the tiny backbone.
(A module of its own, because `from conftest import` can resolve to another folder's conftest.)"""
from pathlib import Path

import tuning

ROOT = Path(__file__).resolve().parents[2]


def tiny_config(**kw):
    # The stage tests name SharpZO, the default before method 'auto' (tests/tuning/test_auto.py tests that one).
    base = dict(method="sharpzo", backbone="tiny-causal", device="cpu", budget=400, intrinsic_dim=16, popsize=6,
                stage1_generations=8, patience=0, mask_every=20, eval_every=5, checkpoint_every=5)
    base.update(kw)
    return tuning.TuneConfig(**base)


def stop_after(polls: int):
    """A should_stop that asks to stop once it has been polled more than `polls` times."""
    seen = {"n": 0}

    def stop():
        seen["n"] += 1
        return seen["n"] > polls
    return stop
