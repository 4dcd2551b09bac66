"""Text towers seen from the prompt learner: token embeddings in, pooled text features out.

Two kinds of open_clip text towers exist and they need different tricks to run short sequences:
- the causal CLIP transformer: the output at the end token never depends on later (padding)
  positions, so the sequence can be cut to the longest end-token position + 1 with identical results;
- a HuggingFace (bidirectional) tower: padding is hidden by the attention mask, so cutting to the
  longest real length and passing the mask gives identical results.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import BackboneError


class CausalOpenClipTower:
    """open_clip CLIP (text attributes on the model) or a TextTransformer (CustomTextCLIP.text)."""

    def __init__(self, model):
        text = getattr(model, "text", None)
        owner = text if text is not None and hasattr(text, "token_embedding") else model
        if getattr(owner, "cls_emb", None) is not None:
            raise BackboneError("Text towers with an appended class token (CoCa) are not supported.")
        if getattr(owner, "attn_mask", None) is None:
            raise BackboneError("Bidirectional open_clip text towers without a causal mask are not supported.")
        self.o = owner
        self.pool_type = getattr(owner, "pool_type", None) or getattr(owner, "text_pool_type", "argmax")
        self.eos_id = getattr(owner, "eos_id", None) or getattr(owner, "text_eos_id", None)
        self.width = owner.token_embedding.weight.shape[1]

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        return self.o.token_embedding(ids)

    @property
    def embedding_table(self) -> torch.Tensor:
        return self.o.token_embedding.weight

    def pool_positions(self, ids: torch.Tensor) -> torch.Tensor:
        if self.pool_type == "argmax":
            return ids.argmax(dim=-1)
        if self.pool_type == "eos":
            return (ids == self.eos_id).int().argmax(dim=-1)
        if self.pool_type == "last":
            return torch.full((ids.shape[0],), ids.shape[1] - 1, dtype=torch.long)
        raise BackboneError(f"Text pooling '{self.pool_type}' is not supported by the prompt learner.")

    def cut_length(self, ids: torch.Tensor) -> int:
        if self.pool_type == "last":
            return ids.shape[1]
        return int(self.pool_positions(ids).max()) + 1

    def encode(self, x: torch.Tensor, ids: torch.Tensor, pool_pos: torch.Tensor) -> torch.Tensor:
        """x: (B, L, width) token embeddings already cut to L; returns unnormalised (B, D) features."""
        o = self.o
        L = x.shape[1]
        cast = o.transformer.get_cast_dtype()
        x = x.to(cast) + o.positional_embedding[:L].to(cast)
        x = o.transformer(x, attn_mask=o.attn_mask[:L, :L])
        pooled = x[torch.arange(x.shape[0], device=x.device), pool_pos]
        pooled = o.ln_final(pooled)  # per-token LayerNorm: pooling first is identical and cheaper
        proj = o.text_projection
        if proj is None:
            return pooled
        return proj(pooled) if isinstance(proj, torch.nn.Module) else pooled @ proj


class HFTower:
    """open_clip HFTextEncoder (e.g. the demo backbone's MiniLM)."""

    def __init__(self, model):
        self.t = model.text
        self.pad_id = self.t.config.pad_token_id
        self.emb = self.t.transformer.get_input_embeddings()
        self.width = self.emb.weight.shape[1]

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        return self.emb(ids)

    @property
    def embedding_table(self) -> torch.Tensor:
        return self.emb.weight

    def pool_positions(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros(ids.shape[0], dtype=torch.long)  # unused: the HF pooler reads the mask

    def cut_length(self, ids: torch.Tensor) -> int:
        return int((ids != self.pad_id).sum(dim=1).max())

    def encode(self, x: torch.Tensor, ids: torch.Tensor, pool_pos: torch.Tensor) -> torch.Tensor:
        mask = (ids[:, : x.shape[1]] != self.pad_id).long()
        out = self.t.transformer(inputs_embeds=x, attention_mask=mask)
        return self.t.proj(self.t.pooler(out, mask))


def text_tower(model):
    text = getattr(model, "text", None)
    if text is not None and hasattr(text, "transformer") and hasattr(text, "pooler") and hasattr(text, "config"):
        return HFTower(model)
    return CausalOpenClipTower(model)


def normalize(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.float(), dim=-1)
