"""Feature reuse (DeepZero): the image tower's activations entering the first tuned block, computed
once; a query then runs only the tuned blocks, the pooling and the projection on them.

`CachedTower(model, pixels, first_block)` holds those activations (N, tokens, width) for one set of
images; `features(changed)` gives the normalised image features with the changed tensors
({param name: tensor}, see vision_delta.overrides) in place of the model's own, through
torch.func.functional_call, so the shared backbone is never modified. With no change it returns the
plain features, equal to encode_image's to float tolerance (tested).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .param_groups import vision_blocks


class _Suffix(torch.nn.Module):
    """The blocks from `first` on, the pooling and the projection, as one module whose parameter
    names are the model's own ("visual.transformer.resblocks.3...."), so overrides apply by name."""

    def __init__(self, model, first: int):
        super().__init__()
        self.visual = model.visual
        self.first = first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.visual
        batch_first = getattr(v.transformer, "batch_first", True)
        if not batch_first:
            x = x.transpose(0, 1)
        for block in v.transformer.resblocks[self.first:]:
            x = block(x)
        if not batch_first:
            x = x.transpose(0, 1)
        pooled, _ = v._pool(x)
        return pooled @ v.proj if v.proj is not None else pooled


def entry_activations(model, pixels: torch.Tensor, first: int, batch_size: int = 64) -> torch.Tensor:
    """Activations entering block `first` (N, tokens, width) in fp32, batch-first."""
    v = model.visual
    batch_first = getattr(v.transformer, "batch_first", True)
    out = []
    with torch.inference_mode():
        for s in range(0, len(pixels), batch_size):
            x = v._embeds(pixels[s:s + batch_size].float())
            if not batch_first:
                x = x.transpose(0, 1)
            for block in v.transformer.resblocks[:first]:
                x = block(x)
            out.append((x if batch_first else x.transpose(0, 1)).float())
    return torch.cat(out) if out else torch.zeros(0)


class CachedTower:
    def __init__(self, model, pixels: torch.Tensor, first_block: int):
        vision_blocks(model)  # a clear error for an image tower of another kind
        self.first = first_block
        self.entry = entry_activations(model, pixels, first_block)
        self.suffix = _Suffix(model, first_block)

    def features(self, changed: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        return self.features_many([changed])[0]

    def features_many(self, changes) -> torch.Tensor:
        """(C, N, D) features for C changes (a CMA-ES generation's candidates, a ZO step's +- pair; any
        iterable, so each changed copy of the tensors is built only when it is used) in one no-grad call
        on the shared cached input, one candidate after another. Stacking the candidates' tensors into one
        batched call (torch.func.vmap over the changes) was slower on the CPU (`python -m bench
        speed_sparse`): each candidate has its own weights, so there is no larger matmul to gain, and the
        stacked activations cost C times the memory."""
        from torch.func import functional_call
        out = []
        with torch.inference_mode():
            for changed in changes:
                z = functional_call(self.suffix, changed, (self.entry,)) if changed else self.suffix(self.entry)
                out.append(F.normalize(z.float(), dim=-1))
        return torch.stack(out) if out else torch.zeros(0, len(self.entry), 0)


def first_tuned_block(names, blocks: int) -> int:
    """Index of the first residual block a set of parameter names touches (blocks when only the final
    LayerNorm and projection change)."""
    found = [int(n.split(".")[3]) for n in names if n.startswith("visual.transformer.resblocks.")]
    return min(found) if found else blocks
