"""Adapter files: `adapter.safetensors` (w, P, class text embeddings) + `adapter.json` (the card).

Loading needs only `tuning` and the backbone and never unpickles anything. Prediction uses the
stored class embeddings directly, so a deployed adapter costs one image forward per image.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import atomic_write_bytes, atomic_write_text
from .errors import AdapterError
from .vision_delta import encode_pil_with_delta, from_tensors, to_tensors

FORMAT_VERSION = 1
TENSORS = ("w", "P", "class_embeddings")
REQUIRED_CARD_KEYS = ("format_version", "backbone_id", "backbone_sha256", "class_names", "prompt_template",
                      "projection", "method", "config", "logit_scale")


@dataclass
class Adapter:
    card: dict
    w: torch.Tensor  # (d,)
    P: torch.Tensor  # (m, width) learned context embeddings
    class_embeddings: torch.Tensor  # (K, D) normalised text features, ready for inference
    # adapt='sparse' (tuning/vision_delta.py): {param name: (flat indices, values)} added to the image
    # tower, and the linear head's change (K, D) already included in class_embeddings.
    vision_delta: dict | None = None
    head_delta: torch.Tensor | None = None

    @property
    def class_names(self) -> list[str]:
        return list(self.card["class_names"])


@dataclass
class Prediction:
    label: str
    index: int
    probabilities: list[float]


def save_adapter(adapter: Adapter, directory) -> Path:
    from safetensors.torch import save
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: getattr(adapter, name).detach().float().cpu().contiguous() for name in TENSORS}
    tensors.update(sparse_tensors(adapter))
    atomic_write_bytes(directory / "adapter.safetensors", save(tensors, metadata={"format_version": str(FORMAT_VERSION)}))
    atomic_write_text(directory / "adapter.json", json.dumps(adapter.card, indent=2, sort_keys=True))
    return directory


def load_adapter(directory) -> Adapter:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    directory = Path(directory)
    card_path, tensor_path = directory / "adapter.json", directory / "adapter.safetensors"
    for p in (card_path, tensor_path):
        if not p.is_file():
            raise AdapterError(f"This is not a complete adapter: {p.name} is missing from {directory}.")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdapterError(f"The adapter card {card_path} is damaged (not valid JSON: {exc}).") from exc
    if not isinstance(card, dict):
        raise AdapterError(f"The adapter card {card_path} is damaged (expected a JSON object).")
    version = card.get("format_version")
    if version != FORMAT_VERSION:
        raise AdapterError(f"This adapter has format version {version!r}; this version of tuning reads "
                           f"version {FORMAT_VERSION}. Re-export it or upgrade tuning.")
    missing = [k for k in REQUIRED_CARD_KEYS if k not in card]
    if missing:
        raise AdapterError(f"The adapter card lacks {', '.join(missing)}; the file is damaged or incomplete.")
    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise AdapterError(f"The adapter tensors in {tensor_path} are damaged ({exc}).") from exc
    absent = [t for t in TENSORS if t not in tensors]
    if absent:
        raise AdapterError(f"The adapter tensors lack {', '.join(absent)}; the file is damaged or incomplete.")
    emb = tensors["class_embeddings"]
    if emb.dim() != 2 or emb.shape[0] != len(card["class_names"]):
        raise AdapterError(f"The adapter holds {tuple(emb.shape)} class embeddings for "
                           f"{len(card['class_names'])} class names; the file is damaged.")
    try:
        vision = from_tensors(tensors) or None
    except ValueError as exc:
        raise AdapterError(f"The adapter tensors in {tensor_path} are damaged: {exc}.") from exc
    return Adapter(card, tensors["w"], tensors["P"], emb, vision, tensors.get("head_delta"))


def sparse_tensors(adapter: Adapter) -> dict:
    """The optional tensors of a sparse adapter (none for a prompt adapter)."""
    out = to_tensors(adapter.vision_delta) if adapter.vision_delta else {}
    if adapter.head_delta is not None:
        out["head_delta"] = adapter.head_delta.detach().float().cpu().contiguous()
    return out


def check_compatible(adapter: Adapter, backbone) -> None:
    """Refuse a backbone whose weights differ from those the adapter was tuned on. The checkpoint
    hash decides when both sides have one (the same weights may sit at another path); otherwise the ids."""
    want_id, want_sha = adapter.card.get("backbone_id"), adapter.card.get("backbone_sha256")
    have_sha = backbone.checkpoint_sha256
    if want_sha and have_sha:
        ok = want_sha == have_sha
    else:
        ok = want_id == backbone.id
    if not ok:
        raise AdapterError(
            f"This adapter was tuned for backbone '{want_id}' (weights sha256 {str(want_sha)[:12]}...), but the "
            f"loaded backbone is '{backbone.id}' (sha256 {str(have_sha)[:12]}...). Load the backbone it was tuned "
            "for; an adapter does not transfer between backbones.")
    if adapter.class_embeddings.shape[1] != backbone.embed_dim:
        raise AdapterError(f"The adapter's embeddings have size {adapter.class_embeddings.shape[1]} but the "
                           f"backbone's have size {backbone.embed_dim}.")


def predict(adapter: Adapter, backbone, images) -> list[Prediction]:
    """images: paths or PIL images. Returns one Prediction per image, probabilities in class order."""
    from PIL import Image
    from .data import _load_image, encode_pil
    check_compatible(adapter, backbone)
    pil = [im if isinstance(im, Image.Image) else _load_image(Path(im)) for im in images]
    z = encode_pil(backbone, pil) if not adapter.vision_delta else encode_pil_with_delta(backbone, adapter.vision_delta, pil)
    probs = torch.softmax(float(adapter.card["logit_scale"]) * z @ adapter.class_embeddings.float().T, dim=-1)
    names = adapter.class_names
    return [Prediction(names[int(p.argmax())], int(p.argmax()), [float(x) for x in p]) for p in probs]


def apply_adapter(adapter: Adapter, backbone) -> torch.Tensor:
    """Recompute the class embeddings from the stored context P with this backbone: (K, D).
    Equal to adapter.class_embeddings on the backbone it was tuned for (a deployment self-check)."""
    from .prompts import PromptLearner
    check_compatible(adapter, backbone)
    learner = PromptLearner(backbone, adapter.class_names, ctx_init=adapter.card["ctx_init"], intrinsic_dim=1)
    T = learner.features_from_contexts(adapter.P.to(backbone.device, torch.float32)[None])[0].cpu()
    return T if adapter.head_delta is None else T + adapter.head_delta.float()
