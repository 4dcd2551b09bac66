"""Linear probe: multinomial logistic regression on the frozen image features, the baseline a
practitioner tries first. It reads the cached features only and never runs a tower, so it is
forward-only with respect to the backbone and costs no query beyond the zero-shot evaluation.

Features are standardised with the training split's statistics (few-shot features of one backbone
share a large common direction that would otherwise dominate the weights); full-batch Adam from zero,
so the fit is deterministic. The L2 strength is chosen on the validation split (method 'auto': by
k-fold cross-validation over the training and validation images, `probe_by_folds`); the standardisation
is then folded into the weights, so the adapter applies logits = z @ W.T + b to plain features.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .stages import Stage

L2_STRENGTHS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)  # the validation split picks one
LEARNING_RATE = 0.01


def fit_logistic_many(z: torch.Tensor, y: torch.Tensor, num_classes: int, *, l2s: list[float],
                      steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One fit per L2 strength, all in one loop: (W (K, D), b (K,)) minimising cross-entropy + l2/2 ||W'||^2 on
    standardised z; W, b act on raw z. Adam works entry by entry and each fit's loss reaches only its own
    weights, so this is the separate fits (up to rounding), at a fifth of the time for five strengths."""
    z = z.float()
    mean, std = z.mean(0), z.std(0, unbiased=False) + 1e-6
    x = (z - mean) / std
    weight = torch.zeros(len(l2s), num_classes, z.shape[1], requires_grad=True)
    bias = torch.zeros(len(l2s), num_classes, requires_grad=True)
    strength = torch.tensor(l2s, dtype=torch.float32)[:, None, None]
    labels = y.repeat(len(l2s))
    opt = torch.optim.Adam([weight, bias], lr=LEARNING_RATE)
    with torch.enable_grad():
        for _ in range(steps):
            logits = torch.einsum("nd,lkd->lnk", x, weight) + bias[:, None, :]
            loss = (F.cross_entropy(logits.reshape(-1, num_classes), labels, reduction="sum") / len(y)
                    + 0.5 * (strength * weight.pow(2)).sum())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    W = weight.detach() / std
    return list(zip(W, bias.detach() - W @ mean))


def fit_logistic(z: torch.Tensor, y: torch.Tensor, num_classes: int, *, l2: float,
                 steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    return fit_logistic_many(z, y, num_classes, l2s=[l2], steps=steps)[0]


def linear(W: torch.Tensor, b: torch.Tensor):
    return lambda z: z @ W.T + b


def fitted_head(z: torch.Tensor, y: torch.Tensor, num_classes: int, *, l2: float, steps: int) -> dict:
    """A fit as the adapter stores it: weight and bias as lists, and the L2 strength."""
    W, b = fit_logistic(z.cpu(), y.cpu(), num_classes, l2=l2, steps=steps)
    return {"weight": W.flatten().tolist(), "bias": b.tolist(), "l2": l2}


def probe_by_folds(pool, steps: int) -> tuple[float, torch.Tensor]:
    """(the L2 strength whose out-of-fold logits score highest over the pool's images (folds.py), those logits)."""
    def fit_predict(z, y, held):  # every strength's logits side by side: (N, L * K)
        fits = fit_logistic_many(z.cpu(), y.cpu(), pool.num_classes, l2s=list(L2_STRENGTHS), steps=steps)
        return torch.cat([linear(W, b)(held.cpu()) for W, b in fits], dim=1)
    logits = pool.out_of_fold(fit_predict, width=len(L2_STRENGTHS) * pool.num_classes).split(pool.num_classes, dim=1)
    best = max(range(len(L2_STRENGTHS)), key=lambda i: (pool.score(logits[i]), -i))  # ties: the first strength
    return L2_STRENGTHS[best], logits[best]


def best_probe(obj, steps: int, stop_requested=lambda: False, on_fit=None):
    """One fit per L2 strength; the best on validation (balanced accuracy, ties: lower loss) as
    (Evaluated, head: weight and bias as lists, and the L2), or None when stopped. `on_fit(ev)` sees each fit."""
    T0 = obj.learner.zero_shot_features().cpu()  # kept in the adapter for reference; not used by the head
    best: tuple[tuple, Any, dict] | None = None
    for l2 in L2_STRENGTHS:
        if stop_requested():
            return None
        head = fitted_head(obj.train_z, obj.train_y, obj.learner.num_classes, l2=l2, steps=steps)
        ev = obj.evaluate_features(T0, logits_of=head_logits(head, obj.train_z.device))
        if on_fit is not None:
            on_fit(ev)
        key = (ev.val_balanced_acc, -ev.val_loss)  # balanced accuracy is known: validation has images
        if best is None or key > best[0]:
            best = (key, ev, head)
    assert best is not None  # L2_STRENGTHS is not empty
    return best[1], best[2]


def head_logits(head: dict, device):
    """The logits function of a head as `best_probe` returns it."""
    W = torch.tensor(head["weight"], dtype=torch.float32, device=device).view(len(head["bias"]), -1)
    return linear(W, torch.tensor(head["bias"], dtype=torch.float32, device=device))


def run_linear_probe(run) -> bool:
    """The best probe is offered to the run as a candidate adapter, against zero-shot."""
    def on_fit(ev):
        run.step += 1
        run.emit(Stage.PROBE, ev)

    found = best_probe(run.obj, run.cfg.probe_steps, run.stop_requested, on_fit)
    if found is None:
        return False
    ev, head = found
    run.consider(torch.zeros(run.cfg.intrinsic_dim, dtype=torch.float64), ev, head=head)
    return True
