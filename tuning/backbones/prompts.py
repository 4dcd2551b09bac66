"""Prompt learner: class prompts [start] P [class tokens] [.] [end] with P = P0 + reshape(A w).

P0 are the token embeddings of a phrase ("a photo of a"); A is a fixed Gaussian matrix regenerated
from a seed (never stored); w is the small vector every tuner optimises. `text_features(W)` runs
the prompts of many w at once: all n*K prompts are stacked and sent through the frozen text tower
in large chunks (DeepZero's forward parallelism), on sequences cut to the shortest length that
gives identical features (see text_towers.py). On a CUDA device those chunks can replay recorded CUDA
graphs instead of launching every kernel from Python (graphed.py, setting `cuda_graphs`).
"""
from __future__ import annotations

import math

import torch

from ..errors import BackboneError
from .graphed import static_forward
from .precision import text_forward_precision
from .prompt_length import prompt_text
from .substitute import call_with
from .text_towers import normalize, text_tower


class PromptLearner:
    def __init__(self, backbone, class_names: list[str], *, ctx_init: str = "a photo of a",
                 intrinsic_dim: int = 512, proj_seed: int = 0, proj_scale: float = 1.0,
                 chunk_rows: int = 256, precision: str = "fp32", cuda_graphs: str = "off"):
        self.backbone = backbone
        self.precision = precision
        self.device = backbone.device
        self.class_names = list(class_names)
        self.ctx_init = ctx_init
        self.d = intrinsic_dim
        self.proj_seed = proj_seed
        self.chunk_rows = chunk_rows
        self.tower = text_tower(backbone.model)
        # plain queries through recorded CUDA graphs (None: every forward eager, as on the CPU)
        self.static_forward = static_forward(cuda_graphs, self.tower.encode, self.device, chunk_rows)
        model = backbone.model
        self.logit_scale = float(model.logit_scale.exp()) if hasattr(model, "logit_scale") else 100.0

        tok = backbone.tokenizer
        phrase = tok([ctx_init])
        self.m = self.tower.cut_length(phrase) - 2  # minus the start and end tokens
        if self.m < 1:
            raise BackboneError(f"The context phrase {ctx_init!r} gives no tokens.")
        ids = tok([f"{ctx_init} {prompt_text(c)}." for c in self.class_names])
        if not torch.equal(ids[:, 1:1 + self.m], phrase[:, 1:1 + self.m].expand(len(ids), -1)):
            raise BackboneError("The tokenizer splits the context phrase differently inside class prompts.")
        self.full_length = ids.shape[1]
        self.length = self.tower.cut_length(ids)
        self.pool_pos = self.tower.pool_positions(ids).to(self.device)
        self.ids = ids[:, : self.length].to(self.device)
        with torch.no_grad():
            self.base = self.tower.embed_tokens(self.ids).float()  # (K, L, width)
            self.P0 = self.base[0, 1:1 + self.m].clone()  # (m, width)
            emb_std = float(self.tower.embedding_table.float().std())
        self.width = self.P0.shape[1]
        self.proj_std = proj_scale * emb_std / math.sqrt(self.d)
        self._A: torch.Tensor | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def A(self) -> torch.Tensor:
        """(m*width, d) Gaussian projection, regenerated from the seed on the CPU so that every
        device and every run gets the same matrix."""
        if self._A is None:
            g = torch.Generator().manual_seed(self.proj_seed)
            self._A = (torch.randn(self.m * self.width, self.d, generator=g) * self.proj_std).to(self.device)
        return self._A

    def contexts(self, W: torch.Tensor) -> torch.Tensor:
        """W: (n, d) -> P: (n, m, width)."""
        W = W.to(self.device, torch.float32)
        return self.P0 + (W @ self.A.T).view(-1, self.m, self.width)

    def forward_precision(self):
        return text_forward_precision(self.precision, self.backbone)

    def features_from_contexts(self, P: torch.Tensor, *, grad: bool = False, changed=None,
                               class_context: torch.Tensor | None = None) -> torch.Tensor:
        """P: (n, m, width) -> normalised text features (n, K, D) in fp32.

        Rows (w index i, class k) are built chunk by chunk, so memory stays bounded for any n*K.
        adapt='sparse' (text_groups.py): `changed` ({parameter name: tensor}) replaces text-tower tensors for
        this call, and `class_context` (K, m, width) is added to class k's context."""
        n, K = P.shape[0], self.num_classes
        rows = n * K
        out = []
        # a recorded graph has no autograd and the backbone's own tensors: anything else runs eagerly
        static = self.static_forward if not grad and not changed else None
        mode = torch.enable_grad() if grad else torch.inference_mode()
        with mode, self.forward_precision():
            for start in range(0, rows, self.chunk_rows):
                r = torch.arange(start, min(start + self.chunk_rows, rows), device=self.device)
                real = len(r)
                if static is not None:
                    r = static.padded(r)  # padding rows repeat a real one; their outputs are dropped below
                i, k = r // K, r % K
                x = self.base[k].clone()
                x[:, 1:1 + self.m] = P[i] if class_context is None else P[i] + class_context[k]
                if static is not None:
                    z = static(x, self.ids[k], self.pool_pos[k])[:real]
                else:
                    z = call_with(self.backbone.model, changed, self.tower.encode, x, self.ids[k], self.pool_pos[k])
                out.append(normalize(z))
        return torch.cat(out).view(n, K, -1)

    def text_features(self, W: torch.Tensor) -> torch.Tensor:
        return self.features_from_contexts(self.contexts(W))

    def zero_shot_features(self) -> torch.Tensor:
        """(K, D) features of the plain prompts "<ctx_init> <class>." (no projection needed)."""
        return self.features_from_contexts(self.P0[None])[0]

    def reference_features(self) -> torch.Tensor:
        """(K, D) features from the tokenizer's full-length ids through the model's own encode_text:
        what the sequence-cut path must reproduce."""
        tok = self.backbone.tokenizer
        ids = tok([f"{self.ctx_init} {prompt_text(c)}." for c in self.class_names]).to(self.device)
        with torch.inference_mode(), self.forward_precision():
            return normalize(self.backbone.model.encode_text(ids))
