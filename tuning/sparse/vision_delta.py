"""A sparse change of the image tower: delta = scatter(indices, A_v w_v), and applying one.

A_v (n chosen parameters x d) is Gaussian, regenerated from a seed chunk by chunk (each chunk of rows
from its own generator), so it is never stored; it is held whole only while it is small
(`HOLD_BYTES`), else each product regenerates it chunk by chunk. Row i's entries have std
scale * rms(its tensor) / sqrt(d), so w_v ~ N(0, I) moves each chosen parameter by about `scale`
times its tensor's typical size.

A finished delta is plain data: per tensor, flat indices and the values added there. Since the text-side
groups (text_groups.py) it may also name text-tower tensors and the class-specific contexts; the file
keeps the `vision_delta/` prefix for all of them, so adapters from before still load. It is applied
without touching the shared backbone: `overrides` builds changed copies of the touched tensors for
torch.func.functional_call.
"""
from __future__ import annotations

import math

import torch

from ..card import DELTA_PREFIX as PREFIX  # tensor names in the adapter file: vision_delta/<param>/indices, .../values

HOLD_BYTES = 64 << 20  # hold A_v whole below this size (64 MiB of float32)
CHUNK_ROWS = 65536


class VisionDelta:
    def __init__(self, model, chosen: dict[str, torch.Tensor], dim: int, *, seed: int, scale: float,
                 other_rms: dict[str, float] | None = None):
        """other_rms: the typical size of chosen tensors that are not the model's (text_groups.CLASS_CONTEXT)."""
        params = dict(model.named_parameters())
        self.names = list(chosen)
        self.indices = [chosen[n].long().cpu() for n in self.names]
        self.sizes = [int(i.numel()) for i in self.indices]
        self.n = sum(self.sizes)
        self.dim = dim
        self.seed = seed
        row_scale = []
        for name, size in zip(self.names, self.sizes):
            rms = tensor_rms(params[name]) if name in params else (other_rms or {})[name]
            row_scale.append(torch.full((size,), scale * rms / math.sqrt(dim)))
        self.row_scale = torch.cat(row_scale) if row_scale else torch.zeros(0)
        self._held = self._chunks_joined() if self.held_bytes_if_whole <= HOLD_BYTES else None

    @property
    def held_bytes_if_whole(self) -> int:
        return self.n * self.dim * 4

    @property
    def held_bytes(self) -> int:
        """Memory the projection holds: whole when small, else one chunk at a time while multiplying."""
        return self.held_bytes_if_whole if self._held is not None else min(self.n, CHUNK_ROWS) * self.dim * 4

    def _chunk(self, c: int) -> torch.Tensor:
        start = c * CHUNK_ROWS
        rows = min(CHUNK_ROWS, self.n - start)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + 7_000_000 + c)
        return torch.randn(rows, self.dim, generator=g) * self.row_scale[start:start + rows, None]

    def _chunks_joined(self) -> torch.Tensor:
        count = math.ceil(self.n / CHUNK_ROWS)
        return torch.cat([self._chunk(c) for c in range(count)]) if count else torch.zeros(0, self.dim)

    def values(self, W: torch.Tensor) -> torch.Tensor:
        """W (m, dim) -> delta values (m, n): A_v w for each row."""
        W = torch.as_tensor(W, dtype=torch.float32).cpu()
        if self._held is not None:
            return W @ self._held.T
        return torch.cat([W @ self._chunk(c).T for c in range(math.ceil(self.n / CHUNK_ROWS))], dim=1)

    def split(self, values: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """One row of values -> {param name: (indices, values)}: the delta as it is stored."""
        parts = values.split(self.sizes)
        return {n: (i, v.float()) for n, i, v in zip(self.names, self.indices, parts)}


def tensor_rms(t: torch.Tensor) -> float:
    """A tensor's typical entry size; a zero tensor (a fresh bias) still gets a scale."""
    return float(t.detach().float().pow(2).mean().sqrt()) or 1e-2


def overrides(model, delta: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """{param name: tensor + delta} for torch.func.functional_call; the model's own tensors stay as they are."""
    params = dict(model.named_parameters())
    out = {}
    for name, (idx, vals) in delta.items():
        p = params[name]
        changed = p.detach().flatten().clone()
        changed.index_add_(0, idx.to(p.device), vals.to(p.device, p.dtype))
        out[name] = changed.view_as(p)
    return out


def to_tensors(delta: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The delta as named tensors for the adapter's safetensors file."""
    out = {}
    for name, (idx, vals) in delta.items():
        out[f"{PREFIX}{name}/indices"] = idx.long().contiguous()
        out[f"{PREFIX}{name}/values"] = vals.float().contiguous()
    return out


def from_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Inverse of to_tensors; other tensors in the dict are ignored. Raises ValueError on a mismatch."""
    names = sorted({k[len(PREFIX):].rsplit("/", 1)[0] for k in tensors if k.startswith(PREFIX)})
    out = {}
    for name in names:
        idx, vals = tensors.get(f"{PREFIX}{name}/indices"), tensors.get(f"{PREFIX}{name}/values")
        if idx is None or vals is None or idx.shape != vals.shape:
            raise ValueError(f"the image-tower change of {name} lacks its indices or values, or their sizes differ")
        out[name] = (idx.long(), vals.float())
    return out


def encode_with_delta(backbone, delta, pixels: torch.Tensor) -> torch.Tensor:
    """Image features (N, D), normalised, of preprocessed pixels with the delta applied to the image tower."""
    from torch.func import functional_call
    model = backbone.model
    changed = {name[len("visual."):]: t for name, t in overrides(model, delta).items()}
    with torch.inference_mode():
        z = functional_call(model.visual, changed, (pixels.to(backbone.device),))
    return torch.nn.functional.normalize(z.float(), dim=-1)


def encode_pil_with_delta(backbone, delta, images, batch_size: int = 64) -> torch.Tensor:
    """PIL images -> (N, D) normalised features on the CPU, through the changed image tower."""
    out = []
    for s in range(0, len(images), batch_size):
        x = torch.stack([backbone.preprocess(im) for im in images[s:s + batch_size]])
        out.append(encode_with_delta(backbone, delta, x).cpu())
    return torch.cat(out) if out else torch.zeros(0, backbone.embed_dim)
