"""Candidate parameter groups of an open_clip image tower, and the choice of coordinates inside them.

A group is a few tensors that play one role in one block: per residual block
its LayerNorms (gains and biases), its attention and MLP biases, its attention weights and its MLP
weights; after the blocks the final LayerNorm and the visual projection. The text side's candidate
groups are in text_groups.py; the shared context and the linear head of class embeddings are not
candidates for the budget and live in joint_objective.py.

`allocate` spends a parameter budget on groups in a given order (most sensitive first, see
sensitivity.py): a group that fits is taken whole, the first that does not is taken in part, by
entry magnitude ('unstructured') or by whole rows with the largest norm ('structured').
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from ..errors import BackboneError

# Role of a block tensor, from its name inside an open_clip ResidualAttentionBlock.
_ROLES = (("ln", re.compile(r"^ln_\d\.(weight|bias)$")),
          ("bias", re.compile(r"^(attn\.in_proj_bias|attn\.out_proj\.bias|mlp\.c_fc\.bias|mlp\.c_proj\.bias)$")),
          ("attn", re.compile(r"^(attn\.in_proj_weight|attn\.out_proj\.weight)$")),
          ("mlp", re.compile(r"^(mlp\.c_fc\.weight|mlp\.c_proj\.weight)$")))


@dataclass
class Group:
    name: str  # e.g. "block3.mlp", "final.proj"
    block: int  # index of the residual block the group sits in; number of blocks for the final ones
    tensors: list[str]  # full parameter names in the model ("visual.transformer.resblocks.3.mlp.c_fc.weight")
    numel: int


def vision_blocks(model):
    """The residual blocks of an open_clip VisionTransformer (model.visual)."""
    visual = getattr(model, "visual", None)
    blocks = getattr(getattr(visual, "transformer", None), "resblocks", None)
    if blocks is None or not hasattr(visual, "_embeds") or not hasattr(visual, "_pool"):
        raise BackboneError("Sparse adapters need an open_clip ViT image tower (visual.transformer.resblocks); "
                            "this backbone has another kind. Use adapt='prompt'.")
    return blocks


def image_groups(model) -> list[Group]:
    blocks = vision_blocks(model)
    params = dict(model.named_parameters())
    groups = []
    for i, block in enumerate(blocks):
        by_role: dict[str, list[str]] = {role: [] for role, _ in _ROLES}
        for local, _ in block.named_parameters():
            for role, pattern in _ROLES:
                if pattern.match(local):
                    by_role[role].append(f"visual.transformer.resblocks.{i}.{local}")
        for role, names in by_role.items():
            if names:
                groups.append(Group(f"block{i}.{role}", i, names, sum(params[n].numel() for n in names)))
    final = len(blocks)
    ln_post = [n for n in ("visual.ln_post.weight", "visual.ln_post.bias") if n in params]
    if ln_post:
        groups.append(Group("final.ln", final, ln_post, sum(params[n].numel() for n in ln_post)))
    if "visual.proj" in params:
        groups.append(Group("final.proj", final, ["visual.proj"], params["visual.proj"].numel()))
    return groups


def vision_parameter_count(model) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if n.startswith("visual."))


def _rows(t: torch.Tensor) -> torch.Tensor:
    """A tensor as rows of output channels: (out, in) weights keep their rows; visual.proj (in, out)
    is x @ proj, so its output channels are columns; vectors are rows of one entry."""
    return t.reshape(-1, 1) if t.dim() == 1 else t


def _top_entries(t: torch.Tensor, count: int, structured: bool, name: str) -> torch.Tensor:
    """Flat indices of `count` entries of t (structured: as many whole rows as fit, maybe none), sorted."""
    if not structured or t.dim() == 1:
        return torch.topk(t.detach().abs().flatten().float(), count).indices.sort().values
    mat = t.detach().float()
    if name.endswith("visual.proj"):  # output channels are columns
        cols = torch.topk(mat.norm(dim=0), count // mat.shape[0]).indices
        return (torch.arange(mat.shape[0])[:, None] * mat.shape[1] + cols[None, :]).flatten().sort().values
    rows = torch.topk(mat.norm(dim=1), count // mat.shape[1]).indices
    return (rows[:, None] * mat.shape[1] + torch.arange(mat.shape[1])[None, :]).flatten().sort().values


def allocate(model, ordered: list[Group], budget: int, structured: bool) -> dict[str, torch.Tensor]:
    """Parameter name -> flat indices chosen, spending at most `budget` parameters on the groups in order.
    Structured picks round down to whole rows; what is left passes on to the next tensors. A group's tensor
    that is not the model's (the class-specific contexts, one tensor of group.numel entries starting at 0)
    has no magnitudes to pick by: its first entries are taken."""
    params = dict(model.named_parameters())
    chosen: dict[str, torch.Tensor] = {}
    left = budget
    for group in ordered:
        if left <= 0:
            break
        for name in group.tensors:
            if left <= 0:
                break
            t = params.get(name)
            numel = group.numel if t is None else t.numel()
            if numel <= left:
                idx = torch.arange(numel)
            elif t is None:
                idx = torch.arange(left)
            else:
                idx = _top_entries(t, left, structured, name)
            if idx.numel():
                chosen[name] = idx
                left -= idx.numel()
    return chosen


def allocation_summary(groups: list[Group], chosen: dict[str, torch.Tensor],
                       scores: dict[str, float] | None) -> list[dict]:
    """For the adapter card: per group its size, the parameters changed and its sensitivity score."""
    out = []
    for g in groups:
        changed = sum(int(chosen[n].numel()) for n in g.tensors if n in chosen)
        out.append({"group": g.name, "parameters": g.numel, "changed": changed,
                    "sensitivity": None if scores is None else scores.get(g.name)})
    return out
