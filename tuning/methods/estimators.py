"""Zeroth-order gradient estimators: gradients of L from forward values only.

Each takes `loss_fn(W) -> losses`, W of shape (n, d), and asks for all its points in ONE call, so
the prompt learner can run them as one large batched forward. Each returns (g, mean_loss) where
mean_loss is the average of the two-point values, a free estimate of L(w) to O(mu^2).
"""
from __future__ import annotations

import torch

from .query_costs import query_cost  # noqa: F401  (estimators.query_cost, the cost of each estimator)


def kernel(r: torch.Tensor) -> torch.Tensor:
    """KerZOO kernel K(r) = (15/4) r (5 - 7 r^2) for r ~ U[-1, 1]: E[r K(r)] = 1 and E[r^3 K(r)] = 0,
    so the mu^2 (third-derivative) bias of the two-point estimate cancels in expectation."""
    return 3.75 * r * (5.0 - 7.0 * r * r)


def cge(loss_fn, w: torch.Tensor, mu: float) -> tuple[torch.Tensor, float]:
    """Coordinate-wise estimate (DeepZero): 2d queries, deterministic, low variance."""
    w = w.double()
    d = w.numel()
    E = torch.eye(d, dtype=w.dtype) * mu
    L = loss_fn(torch.cat([w + E, w - E])).double()
    g = (L[:d] - L[d:]) / (2 * mu)
    return g, float(L.mean())


def rge(loss_fn, w: torch.Tensor, mu: float, q: int, generator: torch.Generator,
        mask: torch.Tensor | None = None, kernel_weighted: bool = False, kernel_range: float = 1.0,
        kernel_clip: float | None = None) -> tuple[torch.Tensor, float]:
    """Two-point random estimate averaged over q Gaussian directions (MeZO), 2q queries.

    The directions are drawn from `generator`, so a caller that seeds it from (run seed, step) can
    regenerate them instead of storing them (MeZO's seed trick). With a mask only the kept
    coordinates are perturbed (and updated). With kernel_weighted the perturbation is mu r u with
    r ~ U[-a, a] (a = kernel_range) and the difference is weighted by K(r/a)/a (KerZOO; the rescaled
    kernel keeps E[r K] = 1 and E[r^3 K] = 0); kernel_clip caps |weight| (less variance, some bias)."""
    w = w.double()
    U = torch.randn(q, w.numel(), generator=generator, dtype=torch.float64)
    if mask is not None:
        U = U * mask.double()
    if kernel_weighted:
        r = (torch.rand(q, generator=generator, dtype=torch.float64) * 2 - 1) * kernel_range
        weight = kernel(r / kernel_range) / kernel_range
        if kernel_clip is not None:
            weight = weight.clamp(-kernel_clip, kernel_clip)
    else:
        r = torch.ones(q, dtype=torch.float64)
        weight = r
    step = mu * r[:, None] * U
    L = loss_fn(torch.cat([w + step, w - step])).double()
    coef = (L[:q] - L[q:]) / (2 * mu) * weight
    return (coef[:, None] * U).mean(0), float(L.mean())


def population(mean: torch.Tensor, X: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
    """Evolution-strategy estimate from one CMA-ES generation's own samples X (S, d) and their
    losses: mean_i (L_i - mean L) (x_i - mean). It points along the gradient of the loss smoothed at
    the search's own scale and costs no query, because CMA-ES has already paid for the losses."""
    X, losses = X.double(), losses.double()
    return ((losses - losses.mean())[:, None] * (X - mean.double())).mean(0)


def estimate(kind: str, loss_fn, w, *, mu: float, q: int = 1, generator=None, mask=None):
    if kind == "cge":
        return cge(loss_fn, w, mu)
    return rge(loss_fn, w, mu, q, generator, mask=mask, kernel_weighted=(kind == "kernel_rge"))


