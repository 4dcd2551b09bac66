"""adapt='sparse': build the joint objective, then place the image-side delta by sensitivity.

`joint_objective(...)` gives a JointObjective whose image side is still unchanged (the zero-shot
evaluation needs nothing more). `place_vision_delta(run, ...)` then probes the candidate groups
(sensitivity.py; skipped for allocation='random'), spends `param_budget` on them (param_groups.allocate),
builds the seeded projection and caches the activations entering the first tuned block for the
training and validation images (image_reuse.py). The probe scores go into the run's checkpoint state,
so a resumed run places the same delta without probing again.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..data import _load_image
from ..errors import DataError
from ..methods.search_size import head_directions
from . import sensitivity
from .image_reuse import CachedTower, first_tuned_block
from .joint_objective import JointObjective, JointSpace
from .param_groups import allocate, allocation_summary, image_groups, vision_blocks
from .text_groups import CLASS_CONTEXT, text_groups
from .vision_delta import VisionDelta, to_tensors


def joint_objective(cfg, learner, data, budget: int) -> JointObjective:
    """The joint vector of adapt='sparse'; method 'auto' tunes its prompt and head only (no image delta)."""
    vision_dim = cfg.vision_dim if cfg.param_budget > 0 and cfg.adapt == "sparse" else 0
    K = len(data.class_names)
    space = JointSpace(cfg.intrinsic_dim, K, data.train.features, data.train.labels, head_scale=cfg.head_scale,
                       vision_dim=vision_dim, head_directions=head_directions(K, cfg.head_form))
    return JointObjective(learner, data, budget, space)


def candidate_groups(model, last_blocks: int, learner=None):
    """The image groups (of the last `last_blocks` blocks when given), then the text groups when a prompt
    learner is given (it sizes the class-specific contexts)."""
    groups = image_groups(model)
    if last_blocks:
        first = len(vision_blocks(model)) - last_blocks
        groups = [g for g in groups if g.block >= first]
    if learner is not None:
        groups += text_groups(model, (learner.num_classes, learner.m, learner.width))
    return groups


def other_rms(learner) -> dict[str, float]:
    """The class-specific contexts' typical entry size: the token embeddings' std, as the prompt's."""
    return {CLASS_CONTEXT: float(learner.tower.embedding_table.float().std())}


def pixels(backbone, split) -> torch.Tensor:
    """The split's images, preprocessed: a changed image tower must see the images, not cached features."""
    paths = [Path(p) for p in split.paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise DataError("Sparse adapters change the image tower, so the tuner needs the images themselves; "
                        f"{len(missing) or 'all'} image file(s) of this data cannot be found (e.g. {missing[:1]}).")
    return torch.stack([backbone.preprocess(_load_image(p)) for p in paths]).to(backbone.device)


def place_vision_delta(run, obj: JointObjective, data) -> dict:
    """Chooses the image parameters to tune and readies the objective; returns the card's allocation record."""
    cfg, model = run.cfg, obj.model
    if obj.space.vision.stop == obj.space.vision.start:
        return {"image_parameters": obj.image_parameters, "parameter_budget": 0, "parameters_changed": 0, "groups": []}
    learner = obj.learner
    groups = candidate_groups(model, cfg.sparse_blocks, learner if cfg.text_groups else None)
    rms = other_rms(learner)
    bb = learner.backbone
    train_px = pixels(bb, data.train)
    if cfg.allocation == "sensitivity" and run.sensitivity is None:
        probes = sensitivity.probes_that_fit(groups, cfg.sensitivity_probes, obj.remaining)
        if probes:
            tower = CachedTower(model, train_px, min(g.block for g in groups if g.block >= 0))
            measured = sensitivity.estimate(obj, tower, groups, probes=probes, mu=cfg.mu, seed=cfg.seed, other_rms=rms)
            run.sensitivity = {"scores": measured, "probes_per_group": probes}
            run.save(run.phase, run.phase_state)
    probed = run.sensitivity if cfg.allocation == "sensitivity" else None
    scores, probes = (probed["scores"], probed["probes_per_group"]) if probed else (None, 0)
    budget = max(1, round(cfg.param_budget * obj.image_parameters))
    chosen = allocate(model, sensitivity.order(groups, scores, cfg.seed), budget,
                      structured=cfg.sparse_structure == "structured")
    obj.delta = VisionDelta(model, chosen, obj.space.vision.stop - obj.space.vision.start, seed=cfg.seed,
                            scale=cfg.vision_scale, other_rms=rms)
    first = first_tuned_block(chosen, len(vision_blocks(model)))
    obj.towers = (CachedTower(model, train_px, first), CachedTower(model, pixels(bb, data.val), first))
    return {"image_parameters": obj.image_parameters, "image_blocks": len(vision_blocks(model)),
            "parameter_budget": budget, "parameters_changed": obj.delta.n, "first_tuned_block": first,
            "allocation": (cfg.allocation if scores is not None or cfg.allocation == "random"
                           else "random (budget too small to probe)"),
            "probes_per_group": probes, "projection_bytes": obj.delta.held_bytes,
            "groups": allocation_summary(groups, chosen, scores)}


def adapter_parts(obj: JointObjective, w: torch.Tensor, card: dict, allocation: dict) -> dict:
    """The sparse adapter's extra tensors (Adapter.extras) at the chosen w; its card keys go into `card`."""
    head = obj.space.head_delta(w[None].float())[0].cpu()
    delta = obj.vision_delta(w)
    card["adapt"] = "sparse"
    card["sparse"] = {
        "dims": obj.space.dims(),
        "head": {"basis": "discriminant directions of the training features (joint_objective.py)",
                 "directions_per_class": obj.space.directions, "scale": obj.space.head_scale,
                 "tensor": "head_delta (K x D), added to the text features"},
        "vision": {**allocation, "tensors": sorted(delta) if delta else [],
                   "stored_as": "vision_delta/<parameter>/indices and .../values, added to the parameter's "
                                "flattened entries (text.class_context: the class-specific contexts, K x m x width, "
                                "added to the shared context)"},
    }
    return {**(to_tensors(delta) if delta else {}), "head_delta": head}
