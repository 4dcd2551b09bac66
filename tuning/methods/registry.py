"""Which function runs each method: a table that `tune` looks a method up in. A new method adds its row here.

Each runner takes the `Run` and returns False when it was stopped early. The zero-shot evaluation has already
been made when a runner starts; zero-shot and Tip-Adapter spend nothing here (Tip-Adapter's cache is added
after the method, in `tune`, because it can also sit on top of any other method).
"""
from __future__ import annotations

from typing import Callable

import torch

from ..runner import Run
from .auto import run_auto
from .cmaes import run_stage1
from .coop import run_coop
from .linear_probe import run_linear_probe
from .names import Method
from .stages import Stage
from .zo_sgd import run_stage2


def _nothing(run: Run) -> bool:
    return True


def _zo_sgd(run: Run) -> bool:
    return run_stage2(run, torch.zeros(run.dim, dtype=torch.float64), sparse=False)


def _cmaes(run: Run) -> bool:
    """BBT-like: plain CMA-ES over the whole budget."""
    no_limit = run.cfg.budget + 1
    return run_stage1(run, sharpness_aware=False, query_cap=run.cfg.budget, max_generations=no_limit,
                      patience=0) is not None


def _sharpzo(run: Run) -> bool:
    """Sharpness-aware CMA-ES until its generations, patience or budget share run out, then sparse ZO-SGD
    from where it ended (a resume in stage 2 skips stage 1)."""
    cfg, start = run.cfg, None
    if run.phase in ("started", Stage.CMAES):
        start = run_stage1(run, sharpness_aware=True, query_cap=int(cfg.stage1_budget_fraction * cfg.budget),
                           max_generations=cfg.stage1_generations, patience=cfg.patience)
        if start is None:
            return False
    return run_stage2(run, start, sparse=True)


RUNNERS: dict[Method, Callable[[Run], bool]] = {
    Method.AUTO: run_auto,
    Method.ZEROSHOT: _nothing,
    Method.TIP_ADAPTER: _nothing,
    Method.LINEAR_PROBE: run_linear_probe,
    Method.COOP: run_coop,
    Method.ZOSGD: _zo_sgd,
    Method.CMAES: _cmaes,
    Method.SHARPZO: _sharpzo,
}


def run_method(run: Run) -> bool:
    """Runs (or resumes) the run's method; False when stopped early."""
    return RUNNERS[Method(run.cfg.method)](run)
