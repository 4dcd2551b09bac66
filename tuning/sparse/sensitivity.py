"""Forward-only sensitivity of parameter groups (SPT without backprop).

For a group B, a Gaussian direction u over B's entries and the two-point difference
D = (L(theta + mu s*u) - L(theta - mu s*u)) / (2 mu) give E[D^2] = ||s * grad_B L||^2 (to O(mu^2)), s the
RMS of each entry's tensor. So a few probes estimate the group's gradient energy in the delta's own
units (vision_delta.py scales A_v by the same RMS, so this is the energy the tuner will see).

Groups differ in size by three orders of magnitude (a LayerNorm: 768 entries, an MLP: 295k), and a
large group has a large energy simply by having many entries. We rank by energy per parameter,
E[D^2] / |B|: the parameter budget buys parameters, so the best value per parameter spent is the
greedy knapsack rule, and it is what SPT compares (per-parameter sensitivity).

Each probe costs 2 queries, charged to the budget through the objective.
"""
from __future__ import annotations

import random

import torch

from ..config import PROBE_SHARE
from .param_groups import Group


def probe_cost(groups: list[Group], probes: int) -> int:
    return 2 * probes * len(groups)


def probes_that_fit(groups: list[Group], wanted: int, budget: int, share: float = PROBE_SHARE) -> int:
    """Probes per group such that probing takes at most `share` of the budget (0 when not even one fits)."""
    per_probe = 2 * len(groups)
    return min(wanted, int(share * budget) // per_probe) if per_probe else 0


def _direction(params: dict, group: Group, mu: float, generator: torch.Generator,
               other_rms: dict[str, float]) -> dict[str, tuple]:
    from .vision_delta import tensor_rms
    delta = {}
    for name in group.tensors:
        p = params.get(name)
        numel, rms = (group.numel, other_rms[name]) if p is None else (p.numel(), tensor_rms(p))
        u = torch.randn(numel, generator=generator) * (mu * rms)
        delta[name] = (torch.arange(numel), u)
    return delta


def estimate(obj, tower, groups: list[Group], *, probes: int, mu: float, seed: int,
             other_rms: dict[str, float] | None = None) -> dict[str, float]:
    """Group name -> E[D^2] / |B| from `probes` two-point probes each (2 * probes * len(groups) queries).
    The probes reach the objective as changes {name: (flat indices, values)}; other_rms: the typical size
    of a group's tensor that is not the model's (text_groups.CLASS_CONTEXT)."""
    params = dict(obj.model.named_parameters())
    g = torch.Generator().manual_seed(seed * 1_000_003 + 900_000_000)
    scores = {}
    for group in groups:
        changes = []
        for _ in range(probes):
            d = _direction(params, group, mu, g, other_rms or {})
            minus = {n: (i, -v) for n, (i, v) in d.items()}
            changes += [d, minus]
        L = obj.losses_with_changes(tower, changes)
        D = (L[0::2] - L[1::2]) / (2 * mu)
        scores[group.name] = float((D ** 2).mean()) / group.numel
    return scores


def order(groups: list[Group], scores: dict[str, float] | None, seed: int) -> list[Group]:
    """Most sensitive first; with no scores (allocation='random') a seeded random order."""
    if scores is None:
        shuffled = list(groups)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    return sorted(groups, key=lambda gr: -scores[gr.name])
