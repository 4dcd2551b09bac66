"""Accuracy of zero-shot prompts or of a tuned adapter on one split (normally the test split,
which only this function, called after tuning, ever reads)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .adapter import Adapter, check_compatible, class_logits
from .errors import AdapterError, DataError
from .quality import Quality, balanced_accuracy, quality_of


@dataclass
class Evaluation:
    accuracy: float
    per_class_accuracy: dict[str, float]
    confusion: list[list[int]]  # confusion[true][predicted]
    predictions: list[int]
    confidences: list[float] = field(default_factory=list)  # probability of the predicted class
    balanced_accuracy: float | None = None  # mean per-class recall (tuning.quality)

    def to_record(self) -> dict:
        """Accuracy, per-class accuracy and the confusion matrix as JSON any database accepts: a class
        without images has no accuracy (NaN), written None (PostgreSQL's jsonb refuses NaN)."""
        return {
            "accuracy": _finite(self.accuracy),
            "per_class_accuracy": {name: _finite(v) for name, v in self.per_class_accuracy.items()},
            "confusion": [[int(n) for n in row] for row in self.confusion],
        }

    def quality(self, class_names: list[str] | None = None) -> Quality:
        """Accuracy and balanced accuracy with 95% intervals and the number of images."""
        return quality_of(self.confusion, class_names or list(self.per_class_accuracy))


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def class_text_features(backbone, class_names, adapter: Adapter | None = None, ctx_init: str = "a photo of a"):
    if adapter is None:
        from .backbones.prompts import PromptLearner
        return PromptLearner(backbone, class_names, ctx_init=ctx_init, intrinsic_dim=1).zero_shot_features().cpu()
    _check_adapter(adapter, backbone, class_names)
    return adapter.class_embeddings.float()


def _check_adapter(adapter: Adapter, backbone, class_names) -> None:
    check_compatible(adapter, backbone)
    if list(class_names) != adapter.class_names:
        raise AdapterError(f"The adapter's classes {adapter.class_names} differ from this data's {list(class_names)}.")


def split_logits(backbone, features: torch.Tensor, *, adapter: Adapter | None = None, class_names) -> torch.Tensor:
    """(N, K) logits of cached image features: the adapter's (its head or cache included) or zero-shot's."""
    if adapter is not None:
        _check_adapter(adapter, backbone, class_names)
        return class_logits(adapter, features)
    model = backbone.model
    scale = float(model.logit_scale.exp()) if hasattr(model, "logit_scale") else 100.0
    return scale * features.float() @ class_text_features(backbone, class_names).T


def image_features(backbone, split, adapter: Adapter | None) -> torch.Tensor:
    """The split's cached features, unless the adapter changes the image tower: then its cached features
    are those of the unchanged tower and the images are encoded again through the changed one."""
    delta = adapter.vision_delta if adapter is not None else None
    if delta is None:
        return split.features.float()
    from .data import _load_image
    from .sparse.vision_delta import encode_pil_with_delta
    try:
        images = [_load_image(Path(p)) for p in split.paths]
    except DataError as exc:
        raise AdapterError("This adapter changes the image tower, so evaluating it needs the images themselves: "
                           f"{exc}") from exc
    return encode_pil_with_delta(backbone, delta, images)


def evaluate(backbone, split, *, adapter: Adapter | None = None, class_names) -> Evaluation:
    if adapter is not None:  # a clear error before any image is encoded
        _check_adapter(adapter, backbone, class_names)
    logits = split_logits(backbone, image_features(backbone, split, adapter), adapter=adapter, class_names=class_names)
    probs = logits.softmax(1) if len(logits) else logits
    pred = logits.argmax(1)
    y = split.labels
    K = len(class_names)
    confusion = torch.zeros(K, K, dtype=torch.long)
    confusion.index_put_((y, pred), torch.ones_like(y), accumulate=True)
    per_class = {}
    for k, name in enumerate(class_names):
        n = int(confusion[k].sum())
        per_class[name] = float(confusion[k, k]) / n if n else float("nan")
    acc = float((pred == y).float().mean()) if len(y) else float("nan")
    confidences = probs.gather(1, pred[:, None])[:, 0].tolist() if len(pred) else []
    return Evaluation(acc, per_class, confusion.tolist(), pred.tolist(), confidences,
                      balanced_accuracy(confusion.tolist()))
