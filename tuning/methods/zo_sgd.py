"""Stage 2: sparse ZO-SGD with Z-pruning (dense when sparse=False: the MeZO-like baseline).

Every K_mask steps: a gradient G at w gives per-coordinate scores s_i = w_i^2 * zscore(|G|)_i
(the z-score keeps a single outlier estimate from dominating) and a mask Omega keeping
(1 - sparsity) of the coordinates; the sharpness L(w + rho G/||G||) - L(w) is logged then
(2 queries, when rho > 0). With sparsity and rho both 0 (the defaults: neither showed a measurable effect,
tuning/README.md) nothing is refreshed and stage 2 is plain ZO-SGD from stage 1's end point. Each step
perturbs and updates only the coordinates in Omega:
g = [L(w + mu u*Omega) - L(w - mu u*Omega)] / (2 mu) * (u*Omega);  w <- w - lr g   (2q queries).
Directions come from a generator seeded by (seed, step), so they are regenerated, never stored.

G comes from a CGE sweep at w (mask_scores='cge', 2d queries, as the paper does) or from the
stage's own step estimates (mask_scores='history', no query): their average over the steps since
the last refresh, which is unbiased for the gradient along that stretch. A coordinate the mask froze
has no new estimate and keeps its last average; the first K_mask steps run dense, so every
coordinate has one.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import estimators, query_costs
from .stages import Stage


def mask_scores(w: torch.Tensor, G: torch.Tensor, kind: str) -> torch.Tensor:
    """How salient each coordinate is. 'signed_z': w^2 * zscore(|G|), the paper's rule: below-average |G|
    gives a negative z, so there a larger |w| scores lower. 'abs_z': w^2 * |zscore(|G|)|. 'rank': the
    rank of |w| plus the rank of |G| (large on both counts is salient; no scale mixes the two)."""
    a, w = G.abs().double(), w.double()
    if kind == "rank":
        return (_rank(w.abs()) + _rank(a)).double()
    z = (a - a.mean()) / (a.std() + 1e-12)
    return w ** 2 * (z.abs() if kind == "abs_z" else z)


def _rank(x: torch.Tensor) -> torch.Tensor:
    """Rank of each value among x, equal values sharing the lowest rank (so ties carry no index order)."""
    return torch.searchsorted(x.sort().values, x)


def z_pruning_mask(w: torch.Tensor, G: torch.Tensor, sparsity: float, rule: str,
                   score: str = "signed_z") -> torch.Tensor:
    """Keep (1 - sparsity) of the coordinates by `mask_scores`; ties (every w^2 score is 0 at w = 0)
    are broken by |G|, so the mask still follows the gradient instead of the index order."""
    keep = max(1, round((1.0 - sparsity) * w.numel()))
    order = np.lexsort((G.abs().double().numpy(), mask_scores(w, G, score).numpy()))  # by score, then |G|
    chosen = order[-keep:] if rule == "salient" else order[:keep]
    mask = torch.zeros_like(w, dtype=torch.float64)
    mask[torch.from_numpy(chosen.copy())] = 1.0
    return mask


def run_stage2(run, w0: torch.Tensor | None, *, sparse: bool) -> bool:
    """Runs until the budget is spent or a stop; returns False when stopped."""
    cfg, obj, d = run.cfg, run.obj, run.dim
    st: dict[str, Any] = {"w": [float(x) for x in w0.double()] if w0 is not None else None, "mask": [1.0] * d,
                          "k": 0, "sharpness": None, "evaluated_k": -1, "step_sum": [0.0] * d,
                          "scores_from": [0.0] * d, "buffer": [0.0] * d}
    if run.phase == Stage.ZO:
        st.update(run.phase_state)  # a checkpoint from before a key existed keeps that key's start value
    w, mask = torch.tensor(st["w"], dtype=torch.float64), torch.tensor(st["mask"], dtype=torch.float64)
    step_sum = torch.tensor(st["step_sum"], dtype=torch.float64)  # sum of step estimates since the refresh
    scores_from = torch.tensor(st["scores_from"], dtype=torch.float64)  # the G the last mask was built from
    buffer = torch.tensor(st["buffer"], dtype=torch.float64)  # stage2_update='running_sum': every g so far
    from_history = sparse and cfg.mask_scores == "history"
    gen = torch.Generator()
    step_cost = 2 * cfg.q
    refresh_cost = query_costs.refresh_cost(cfg, d) if sparse else 0  # 0: no mask, no sharpness, no refresh

    def state():
        return {**st, "w": [float(x) for x in w], "mask": [float(x) for x in mask],
                "step_sum": [float(x) for x in step_sum], "scores_from": [float(x) for x in scores_from],
                "buffer": [float(x) for x in buffer]}

    def sparsity():
        return float(1.0 - mask.mean())

    while True:
        k = st["k"]
        refresh = refresh_cost > 0 and k % cfg.mask_every == 0 and not (from_history and k == 0)
        evaluate = (k + 1) % cfg.eval_every == 0
        if refresh and obj.remaining < step_cost + refresh_cost + evaluate + 1 and k > 0:
            refresh = False  # too little budget left for a refresh: keep stepping with the current mask
        cost = step_cost + refresh * refresh_cost + evaluate
        if obj.remaining < cost + 1:  # keep one query to evaluate the final w
            break
        if run.stop_requested():
            run.save(Stage.ZO, state())
            return False
        if refresh:
            if from_history:
                G = torch.where(mask > 0, step_sum / cfg.mask_every, scores_from)
                step_sum.zero_()
            else:
                G, _ = estimators.cge(obj.losses, w, cfg.mu_cge)
            scores_from = G
            mask = z_pruning_mask(w, G, cfg.sparsity, cfg.mask_rule, cfg.mask_saliency)
            if cfg.rho > 0:
                shift = cfg.rho * G / G.norm() if G.norm() > 0 else torch.zeros_like(G)
                l_w, l_shift = obj.losses(torch.stack([w, w + shift])).tolist()
                st["sharpness"] = l_shift - l_w
        gen.manual_seed(cfg.seed * 1_000_003 + 500_000_000 + k)
        g, _ = estimators.rge(obj.losses, w, cfg.mu, cfg.q, gen, mask=mask if sparse else None,
                              kernel_weighted=(cfg.stage2_estimator == "kernel_rge"), kernel_range=cfg.kernel_range)
        if cfg.stage2_update == "running_sum":  # the reference code's buffer: a momentum of 1, never reset
            buffer += g
            w = w - cfg.lr * buffer
        else:
            w = w - cfg.lr * g
        if from_history:
            step_sum += g
        st["k"] = k + 1
        run.step += 1
        if evaluate:
            ev = obj.evaluate(w)
            st["evaluated_k"] = st["k"]
            run.consider(w, ev)
            run.emit(Stage.ZO, ev, sharpness=st["sharpness"], sparsity=sparsity())
        if st["k"] % cfg.checkpoint_every == 0:
            run.save(Stage.ZO, state())

    if st["evaluated_k"] != st["k"] and obj.remaining >= 1:
        ev = obj.evaluate(w)
        st["evaluated_k"] = st["k"]
        run.consider(w, ev)
        run.emit(Stage.ZO, ev, sharpness=st["sharpness"], sparsity=sparsity())
    run.save(Stage.ZO, state())
    return True
