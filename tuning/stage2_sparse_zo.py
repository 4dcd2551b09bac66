"""Stage 2: sparse ZO-SGD with Z-pruning (dense when sparse=False: the MeZO-like baseline).

Every K_mask steps: a CGE gradient G at w (2d queries) gives per-coordinate scores
s_i = w_i^2 * zscore(|G|)_i (the z-score keeps a single outlier estimate from dominating) and a
mask Omega keeping (1 - sparsity) of the coordinates; the sharpness L(w + rho G/||G||) - L(w) is
logged then (2 queries). Each step perturbs and updates only the coordinates in Omega:
g = [L(w + mu u*Omega) - L(w - mu u*Omega)] / (2 mu) * (u*Omega);  w <- w - lr g   (2q queries).
Directions come from a generator seeded by (seed, step), so they are regenerated, never stored.
"""
from __future__ import annotations

import torch

from . import estimators


def z_pruning_mask(w: torch.Tensor, G: torch.Tensor, sparsity: float, rule: str) -> torch.Tensor:
    a = G.abs()
    z = (a - a.mean()) / (a.std() + 1e-12)
    score = w.double() ** 2 * z
    keep = max(1, round((1.0 - sparsity) * w.numel()))
    idx = torch.topk(score, keep, largest=(rule == "salient")).indices
    mask = torch.zeros_like(w, dtype=torch.float64)
    mask[idx] = 1.0
    return mask


def run_stage2(run, w0: torch.Tensor | None, *, sparse: bool) -> bool:
    """Runs until the budget is spent or a stop; returns False when stopped."""
    cfg, obj, d = run.cfg, run.obj, run.cfg.intrinsic_dim
    if run.phase == "stage2":
        st = run.phase_state
    else:
        st = {"w": [float(x) for x in w0.double()], "mask": [1.0] * d, "k": 0, "sharpness": None,
              "evaluated_k": -1}
    w, mask = torch.tensor(st["w"], dtype=torch.float64), torch.tensor(st["mask"], dtype=torch.float64)
    gen = torch.Generator()
    step_cost = 2 * cfg.q
    refresh_cost = 2 * d + 2
    stage = "zo"

    def state():
        return {**st, "w": [float(x) for x in w], "mask": [float(x) for x in mask]}

    def sparsity():
        return float(1.0 - mask.mean())

    while True:
        k = st["k"]
        refresh = sparse and k % cfg.mask_every == 0
        evaluate = (k + 1) % cfg.eval_every == 0
        if refresh and obj.remaining < step_cost + refresh_cost + evaluate + 1 and k > 0:
            refresh = False  # too little budget left for a refresh: keep stepping with the current mask
        cost = step_cost + refresh * refresh_cost + evaluate
        if obj.remaining < cost + 1:  # keep one query to evaluate the final w
            break
        if run.stop_requested():
            run.save("stage2", state())
            return False
        if refresh:
            G, _ = estimators.cge(obj.losses, w, cfg.mu_cge)
            mask = z_pruning_mask(w, G, cfg.sparsity, cfg.mask_rule)
            shift = cfg.rho * G / G.norm() if G.norm() > 0 else torch.zeros_like(G)
            l_w, l_shift = obj.losses(torch.stack([w, w + shift])).tolist()
            st["sharpness"] = l_shift - l_w
        gen.manual_seed(cfg.seed * 1_000_003 + 500_000_000 + k)
        g, _ = estimators.rge(obj.losses, w, cfg.mu, cfg.q, gen, mask=mask if sparse else None,
                              kernel_weighted=(cfg.stage2_estimator == "kernel_rge"))
        w = w - cfg.lr * g
        st["k"] = k + 1
        run.step += 1
        if evaluate:
            ev = obj.evaluate(w)
            st["evaluated_k"] = st["k"]
            run.consider(w, ev)
            run.emit(stage, ev, sharpness=st["sharpness"], sparsity=sparsity())
        if st["k"] % cfg.checkpoint_every == 0:
            run.save("stage2", state())

    if st["evaluated_k"] != st["k"] and obj.remaining >= 1:
        ev = obj.evaluate(w)
        st["evaluated_k"] = st["k"]
        run.consider(w, ev)
        run.emit(stage, ev, sharpness=st["sharpness"], sparsity=sparsity())
    run.save("stage2", state())
    return True
