"""Stage 1: sharpness-aware CMA-ES (pycma ask/tell) over w, from w0 = 0.

Each generation: estimate the gradient g at the mean, take the SAM worst-case shift
eps* = rho g/||g||, score every candidate x_i at x_i + eps* and tell CMA-ES those scores for the
unshifted x_i, so it minimises the loss over a neighbourhood and prefers flat regions.
With rho = 0 (the default: the shift showed no measurable effect, tuning/README.md) this is plain CMA-ES
(the BBT-like baseline): no gradient query and no sharpness point are spent.

Query cost per generation: gradient (2d for CGE, 2q for RGE, none for 'population', which reuses
the previous generation's scores) + S candidates + 1 (mean: train loss and
validation accuracy) + 1 (mean + eps*, for the sharpness estimate) when rho > 0.

Checkpoints hold no pickle: CMA-ES samples from our own seeded numpy Generator, so its whole state
is a deterministic function of the fitness values it was told; the checkpoint stores those
(JSON floats) and a resume replays ask/tell without a single query.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from . import estimators
from .query_costs import generation_cost, shifts
from .search_size import covariance_model
from .stages import Stage


def load_cma():
    """pycma, imported on first use: about a second of CPU, which the web side never needs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import cma
    return cma


def new_es(d: int, cfg):
    cma = load_cma()
    rng = np.random.Generator(np.random.PCG64(cfg.seed + 1))
    opts = {"popsize": cfg.popsize, "seed": np.nan, "verbose": -9,
            "randn": lambda *shape: rng.standard_normal(shape)}
    if covariance_model(cfg.cma_covariance, d) == "diagonal":  # d numbers instead of d x d: many classes fit
        opts["CMA_diagonal"] = True
    if cfg.cma_bounds > 0:
        opts["bounds"] = [-cfg.cma_bounds, cfg.cma_bounds]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cma.CMAEvolutionStrategy(np.zeros(d), cfg.sigma0, opts)


def _tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def run_stage1(run, *, sharpness_aware: bool, query_cap: int, max_generations: int,
               patience: int) -> torch.Tensor | None:
    """Runs generations until max_generations (T_c), the patience window, `query_cap` queries used in total, or a stop.
    Returns the stage-2 start point, or None when stopped (the checkpoint then holds the state)."""
    cfg, obj = run.cfg, run.obj
    st: dict[str, Any] = (run.phase_state if run.phase == Stage.CMAES
                          else {"fitness": [], "since_improved": 0, "best_acc": -1.0})
    es, previous = new_es(run.dim, cfg), None
    recent: list[np.ndarray] = []

    def remember(X) -> None:  # only for stage2_start='recent_average': with many classes a generation is large
        if cfg.stage2_start == "recent_average":
            recent[:] = (recent + [np.array(X)])[-cfg.recent_generations:]

    for fit in st["fitness"]:  # replay: rebuilds the exact CMA-ES state, no queries
        mean = es.mean.copy()
        X = es.ask()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es.tell(X, fit)
        remember(X)
        previous = (mean, X, fit)
    sharpness_aware = shifts(cfg, sharpness_aware)
    cost = generation_cost(cfg, sharpness_aware, run.dim)
    gen_seed = torch.Generator()
    while True:
        gen = len(st["fitness"])
        out_of_time = gen >= max_generations or obj.queries + cost > query_cap
        out_of_patience = patience and st["since_improved"] >= patience
        if out_of_time or out_of_patience:
            break
        if run.stop_requested():
            run.save(Stage.CMAES, st)
            return None
        mean = torch.from_numpy(es.mean.copy())
        X = es.ask()
        eps = torch.zeros_like(mean)
        if sharpness_aware:
            if cfg.stage1_grad == "population":  # the last generation's scores; none before the first
                g = estimators.population(*map(_tensor, previous)) if previous else torch.zeros_like(mean)
            else:
                gen_seed.manual_seed(cfg.seed * 1_000_003 + gen)
                g, _ = estimators.estimate(cfg.stage1_grad, obj.losses, mean, mu=cfg.mu_cge, q=cfg.rge_queries,
                                           generator=gen_seed)
            if g.norm() > 0:
                eps = cfg.rho * g / g.norm()
        fit = obj.losses(torch.from_numpy(np.array(X)) + eps).tolist()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es.tell(X, fit)
        st["fitness"].append(fit)
        remember(X)
        previous = (mean, X, fit)

        run.step += 1
        ev = obj.evaluate(mean)
        sharpness = float(obj.losses(mean + eps)[0]) - ev.train_loss if sharpness_aware else None
        improved = ev.val_acc > st["best_acc"]
        st["best_acc"] = max(st["best_acc"], ev.val_acc)
        st["since_improved"] = 0 if improved else st["since_improved"] + 1
        run.consider(mean, ev)
        run.emit(Stage.CMAES, ev, sharpness=sharpness, sparsity=None)
        run.save(Stage.CMAES, st)

    if cfg.stage2_start == "recent_average" and recent:
        return torch.from_numpy(np.concatenate(recent).mean(0))
    return torch.from_numpy(es.mean.copy())
