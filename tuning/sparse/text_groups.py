"""Text-side candidate groups of adapt='sparse' , beside the image
groups of param_groups.py, and running the text tower with a change of them.

The groups (setting `text_groups`), ranked by the same forward-only sensitivity probes as the image groups
and paid from the same parameter budget:
- `text.class_context`: class-specific contexts (CoOp's class-specific variant): one context per class,
  (K, m, width), started at 0 and added to the shared context P in class k's prompt. It is no tensor of
  the backbone (CLASS_CONTEXT names it); its entries are scaled like the prompt's, by the token
  embedding's std;
- `text.proj`: the text projection;
- per block, for the last TEXT_BLOCKS text blocks: `text.block<i>.ln` (LayerNorm gains and biases) and
  `text.block<i>.bias` (every other bias).
Text groups carry block -1: they sit before no image block, so they never move the image-side cache.

A change is stored like the image delta ({name: (flat indices, values)}, vision_delta.py). With a change
of the text tower, the class embeddings are recomputed per candidate (K prompts each).
"""
from __future__ import annotations

import torch

from ..config import TEXT_BLOCKS
from .param_groups import Group

CLASS_CONTEXT = "text.class_context"


def _text_blocks(model) -> tuple[str, torch.nn.ModuleList]:
    """(full name prefix, blocks) of the text tower's residual blocks: a HuggingFace encoder's layers or
    an open_clip text transformer's resblocks."""
    text = getattr(model, "text", None)
    hf = getattr(getattr(getattr(text, "transformer", None), "encoder", None), "layer", None)
    blocks = hf if hf is not None else getattr(getattr(text if text is not None and hasattr(text, "transformer")
                                                       else model, "transformer", None), "resblocks", None)
    if blocks is None:
        return "", torch.nn.ModuleList()
    names = {id(m): n for n, m in model.named_modules()}
    return names[id(blocks)] + ".", blocks


def _projection_names(model) -> list[str]:
    wanted = ("text.proj.weight", "text.proj.bias", "text_projection", "text.text_projection",
              "text_projection.weight", "text_projection.bias", "text.text_projection.weight",
              "text.text_projection.bias")
    params = dict(model.named_parameters())
    return [n for n in wanted if n in params]


def text_groups(model, class_context_shape: tuple[int, int, int]) -> list[Group]:
    """The text-side groups; class_context_shape is (K, m, width) of the prompt learner."""
    K, m, width = class_context_shape
    params = dict(model.named_parameters())
    groups = [Group("text.class_context", -1, [CLASS_CONTEXT], K * m * width)]
    proj = _projection_names(model)
    if proj:
        groups.append(Group("text.proj", -1, proj, sum(params[n].numel() for n in proj)))
    prefix, blocks = _text_blocks(model)
    for i in range(max(0, len(blocks) - TEXT_BLOCKS), len(blocks)):
        modules = dict(blocks[i].named_modules())
        ln, bias = [], []
        for local, _ in blocks[i].named_parameters():
            owner = modules[local.rpartition(".")[0]]
            full = f"{prefix}{i}.{local}"
            if isinstance(owner, torch.nn.LayerNorm):
                ln.append(full)
            elif local.endswith("bias"):
                bias.append(full)
        for role, names in (("ln", ln), ("bias", bias)):
            if names:
                groups.append(Group(f"text.block{i}.{role}", -1, names, sum(params[n].numel() for n in names)))
    return groups


def split_change(delta: dict) -> tuple[dict, dict, tuple | None]:
    """{name: (indices, values)} -> (image tower part, text tower part, class-context part or None)."""
    image = {n: d for n, d in delta.items() if n.startswith("visual.")}
    text = {n: d for n, d in delta.items() if not n.startswith("visual.") and n != CLASS_CONTEXT}
    return image, text, delta.get(CLASS_CONTEXT)


def class_context(part: tuple | None, shape: tuple[int, int, int], device) -> torch.Tensor | None:
    """The (K, m, width) class-specific contexts of a stored change (None when it has none)."""
    if part is None:
        return None
    idx, vals = part
    dense = torch.zeros(shape[0] * shape[1] * shape[2])
    dense.index_add_(0, idx.long().cpu(), vals.float().cpu())
    return dense.view(shape).to(device)


def text_features_with_change(learner, P: torch.Tensor, delta: dict) -> torch.Tensor:
    """(n, K, D) text features of contexts P (n, m, width) with the text part of `delta` applied (the text
    tower's tensors and the class-specific contexts)."""
    from .vision_delta import overrides
    _, text, ctx = split_change(delta)
    shape = (learner.num_classes, learner.m, learner.width)
    changed = overrides(learner.backbone.model, text) if text else None
    return learner.features_from_contexts(P, changed=changed, class_context=class_context(ctx, shape, learner.device))
