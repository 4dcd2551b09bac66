"""Accuracy of zero-shot prompts or of a tuned adapter on one split (normally the test split,
which only this function, called after tuning, ever reads)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .adapter import Adapter, check_compatible
from .errors import AdapterError


@dataclass
class Evaluation:
    accuracy: float
    per_class_accuracy: dict[str, float]
    confusion: list[list[int]]  # confusion[true][predicted]
    predictions: list[int]


def class_text_features(backbone, class_names, adapter: Adapter | None = None, ctx_init: str = "a photo of a"):
    if adapter is None:
        from .prompts import PromptLearner
        return PromptLearner(backbone, class_names, ctx_init=ctx_init, intrinsic_dim=1).zero_shot_features().cpu()
    check_compatible(adapter, backbone)
    if list(class_names) != adapter.class_names:
        raise AdapterError(f"The adapter's classes {adapter.class_names} differ from this data's {list(class_names)}.")
    return adapter.class_embeddings.float()


def evaluate(backbone, split, *, adapter: Adapter | None = None, class_names) -> Evaluation:
    T = class_text_features(backbone, class_names, adapter)
    pred = (split.features.float() @ T.T).argmax(1)
    y = split.labels
    K = len(class_names)
    confusion = torch.zeros(K, K, dtype=torch.long)
    confusion.index_put_((y, pred), torch.ones_like(y), accumulate=True)
    per_class = {}
    for k, name in enumerate(class_names):
        n = int(confusion[k].sum())
        per_class[name] = float(confusion[k, k]) / n if n else float("nan")
    acc = float((pred == y).float().mean()) if len(y) else float("nan")
    return Evaluation(acc, per_class, confusion.tolist(), pred.tolist())
