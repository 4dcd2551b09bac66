"""Zero-shot accuracy of a CLIP-style model on an image folder (one sub-folder per class).

Kept inside the demo backbone package so that building and checking it needs nothing else from
`tuning`. Class names come from folder names with underscores replaced by spaces; richer
descriptions are an explicit opt-in (`descriptions=`), never the default.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
TEMPLATE = "a photo of {}"

# Opt-in only: longer class descriptions (the plain folder names are what we report by default).
NEU_DESCRIPTIONS = {
    "crazing": "crazing, a network of fine cracks on steel",
    "inclusion": "inclusions, dark elongated spots in steel",
    "patches": "dark patches on steel",
    "pitted_surface": "a pitted steel surface with many small pits",
    "rolled-in_scale": "rolled-in scale, flaky scale marks on steel",
    "scratches": "scratches on steel",
}
DEMO_DESCRIPTIONS = {
    "nominal": "nominal fabric with no defects",
    "local_defect": "fabric with a small local defect",
    "global_defect": "fabric with a global defect across the whole surface",
}


def class_name(folder: str) -> str:
    return folder.replace("_", " ")


def list_folder(root, split: str = "all"):
    """(paths, labels, class folders). split: all | choice (every 10th file) | test (the rest)."""
    root = Path(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, labels = [], []
    for k, c in enumerate(classes):
        files = sorted(p for p in (root / c).iterdir() if p.suffix.lower() in IMAGE_EXTS)
        for i, f in enumerate(files):
            if split == "choice" and i % 10 != 0:
                continue
            if split == "test" and i % 10 == 0:
                continue
            paths.append(f)
            labels.append(k)
    return paths, np.array(labels), classes


@torch.no_grad()
def encode_images(model, preprocess, paths, batch_size=128):
    feats = []
    for i in range(0, len(paths), batch_size):
        x = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths[i:i + batch_size]])
        feats.append(F.normalize(model.encode_image(x), dim=-1))
    return torch.cat(feats)


@torch.no_grad()
def class_text_features(model, tokenizer, names, template=TEMPLATE):
    tokens = tokenizer([template.format(n) for n in names])
    return F.normalize(model.encode_text(tokens), dim=-1)


def accuracy(image_features, labels, text_features):
    pred = (image_features @ text_features.t()).argmax(1).numpy()
    per_class = {int(k): float((pred[labels == k] == k).mean()) for k in np.unique(labels)}
    return float((pred == labels).mean()), per_class, pred


def zero_shot(model, preprocess, tokenizer, root, split="all", template=TEMPLATE, descriptions=None):
    """Zero-shot accuracy on a class folder. descriptions: optional {folder: text} (opt-in)."""
    model.eval()
    paths, labels, classes = list_folder(root, split)
    names = [(descriptions or {}).get(c, class_name(c)) for c in classes]
    feats = encode_images(model, preprocess, paths)
    acc, per_class, _ = accuracy(feats, labels, class_text_features(model, tokenizer, names, template))
    return {
        "accuracy": acc,
        "chance": 1.0 / len(classes),
        "images": len(paths),
        "per_class": {classes[k]: v for k, v in per_class.items()},
        "prompts": [template.format(n) for n in names],
    }
