"""A CMA-ES generation's candidates through the tuned image blocks: one call for the whole
generation (JointObjective.losses: the projection once, the cached input shared, one candidate after
another) against the code before it (one image-side call per candidate) and against stacking the
candidates' changed tensors into one batched call (torch.func.vmap over the changes). Part of
`python -m bench speed_sparse`.
"""
from __future__ import annotations

import functools
import statistics

import torch
import torch.nn.functional as F

from .common import median_time


def _objective(bb, px: torch.Tensor, classes: int, first: int, dim: int):
    """A JointObjective over random images and labels, its image delta in block `first` (its MLP
    weights, 0.5 % of the tower at most) and the projection, with the reuse cache at `first`."""
    from tuning.backbones.prompts import PromptLearner
    from tuning.config import TuneConfig
    from tuning.data import FewShotData, Split
    from tuning.sparse.image_reuse import CachedTower
    from tuning.sparse.param_groups import vision_blocks, vision_parameter_count
    from tuning.sparse.setup import joint_objective
    from tuning.sparse.vision_delta import VisionDelta

    model = bb.model
    with torch.inference_mode():
        z = F.normalize(model.encode_image(px).float(), dim=-1)
    y = torch.arange(len(px)) % classes
    split = Split(z, y)
    data = FewShotData([f"class {k}" for k in range(classes)], split, split, split, backbone_id=bb.id)
    cfg = TuneConfig(adapt="sparse", intrinsic_dim=32, vision_dim=dim, param_budget=0.005)
    learner = PromptLearner(bb, data.class_names, intrinsic_dim=cfg.intrinsic_dim)
    obj = joint_objective(cfg, learner, data, budget=10**9)
    params = dict(model.named_parameters())
    budget = round(cfg.param_budget * vision_parameter_count(model))
    names = [f"visual.transformer.resblocks.{first}.mlp.c_fc.weight"] if first < len(vision_blocks(model)) else []
    chosen = {n: torch.randperm(params[n].numel(), generator=torch.Generator().manual_seed(0))[:budget].sort().values
              for n in names}
    chosen["visual.proj"] = torch.arange(params["visual.proj"].numel())
    obj.delta = VisionDelta(model, chosen, dim, seed=0, scale=0.1)
    obj.towers = (CachedTower(model, px, first), None)
    return obj


def _one_call_per_candidate(obj, W: torch.Tensor) -> torch.Tensor:
    """JointObjective.losses as it was before the generation ran in one call."""
    T = obj.class_embeddings(W)
    out = [obj._ce(T[i:i + 1], obj.towers[0].features(obj.changed_tensors(W[i])), obj.train_y) for i in range(len(W))]
    return torch.cat(out).double()


def _stacked(obj, W: torch.Tensor) -> torch.Tensor:
    """The candidates' changed tensors stacked, through torch.func.vmap in one call."""
    from torch.func import functional_call, vmap
    T = obj.class_embeddings(W)
    changes = list(obj.changed_tensors_many(W))
    stacked = {n: torch.stack([c[n] for c in changes]) for n in changes[0]}
    tower = obj.towers[0]
    with torch.inference_mode():
        Z = vmap(lambda p: functional_call(tower.suffix, p, (tower.entry,)))(stacked)
    Z = F.normalize(Z.float(), dim=-1)
    return torch.cat([obj._ce(T[i:i + 1], Z[i], obj.train_y) for i in range(len(W))]).double()


def generation_rows(bb, px: torch.Tensor, *, firsts: list[int], candidates: int, repeats: int, classes: int = 6):
    """Rows: first tuned block, per-candidate ms one call each (before), in one call (now), stacked
    (vmap), and the ratios before / now and stacked / now; the three give equal losses (checked). The
    variants take turns, repeat after repeat."""
    import warnings
    rows = []
    for first in firsts:
        obj = _objective(bb, px, classes, first, dim=64)
        W = torch.randn(candidates, obj.space.dim, generator=torch.Generator().manual_seed(1))
        now = obj.losses(W)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # vmap's "no batching rule" note on attention
            for other in (_one_call_per_candidate(obj, W), _stacked(obj, W)):
                assert torch.allclose(other, now, rtol=1e-4), (other, now)
            # round robin, so a change of the machine's load falls on the three alike
            times = {name: [] for name in ("before", "now", "stacked")}
            for _ in range(repeats):
                times["before"].append(median_time(functools.partial(_one_call_per_candidate, obj, W), 1))
                times["now"].append(median_time(functools.partial(obj.losses, W), 1))
                times["stacked"].append(median_time(functools.partial(_stacked, obj, W), 1))
            t_before, t_now, t_stacked = (statistics.median(times[k]) for k in ("before", "now", "stacked"))
        per = 1000 / candidates
        rows.append([first, f"{per * t_before:.1f}", f"{per * t_now:.1f}", f"{per * t_stacked:.1f}",
                     f"{t_before / t_now:.2f}x", f"{t_stacked / t_now:.2f}x"])
    return rows
