"""The adapter card (`adapter.json`): what an adapter is, for which backbone and classes, and how it
was tuned. `AdapterCard` owns reading and writing it, as PEFT's config classes own theirs; the
tensors stay in tuning/adapter.py. Light on purpose (json only): the web app reads cards with it.

Keys renamed since the first cards are read under their old name too, so every card ever written
still loads: `dataset_version` held the dataset's content digest and is written as `dataset_hash`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import AdapterError

FORMAT_VERSION = 1  # an adapter made of w, P and the class embeddings only
EXTRAS_FORMAT_VERSION = 2  # one that also holds extras (a head, a cache, a sparse delta)
TEXT_DELTA_FORMAT_VERSION = 3  # one whose stored delta also changes the text side (text_groups.py)
READABLE_VERSIONS = (FORMAT_VERSION, EXTRAS_FORMAT_VERSION, TEXT_DELTA_FORMAT_VERSION)
REQUIRED_CARD_KEYS = ("format_version", "backbone_id", "backbone_sha256", "class_names", "prompt_template",
                      "projection", "method", "config", "logit_scale")
# The names of a sparse delta's tensors in adapter.safetensors: vision_delta/<param>/indices and .../values.
DELTA_PREFIX, DELTA_INDICES, DELTA_VALUES = "vision_delta/", "/indices", "/values"
RENAMED_KEYS = {"dataset_version": "dataset_hash"}  # old key -> the key written today


def upgrade_keys(card: dict) -> dict:
    """The card with its keys under today's names (a key written under both keeps today's value)."""
    out = dict(card)
    for old, new in RENAMED_KEYS.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, value)
    return out


def card_text(card: dict) -> str:
    """adapter.json's text for a card (today's key names, sorted keys), checked or not: a writer may
    write what a reader will refuse, and the reader then says why."""
    return json.dumps(upgrade_keys(card), indent=2, sort_keys=True)


@dataclass
class AdapterCard:
    format_version: int
    backbone_id: str
    backbone_sha256: str | None
    class_names: list[str]
    prompt_template: str
    projection: dict
    method: str
    config: dict
    logit_scale: float
    dataset_hash: str | None = None  # a digest of the class names and image contents the adapter was tuned on
    metrics: dict = field(default_factory=dict)  # validation figures, queries used, query precision...
    extra: dict[str, Any] = field(default_factory=dict)  # every other key (ctx_init, head, cache, sparse...), as written

    @classmethod
    def from_dict(cls, card: Any, *, where: str = "The adapter card") -> "AdapterCard":
        """A card as read from its JSON; AdapterError, naming `where`, when it is not one this version reads."""
        if not isinstance(card, dict):
            raise AdapterError(f"{where} is damaged (expected a JSON object).")
        version = card.get("format_version")
        if version not in READABLE_VERSIONS:
            raise AdapterError(f"This adapter has format version {version!r}; this version of tuning reads "
                               f"versions {', '.join(map(str, READABLE_VERSIONS))}. Re-export it or upgrade tuning.")
        missing = [k for k in REQUIRED_CARD_KEYS if k not in card]
        if missing:
            raise AdapterError(f"The adapter card lacks {', '.join(missing)}; the file is damaged or incomplete.")
        card = upgrade_keys(card)
        named = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        metrics = card.get("metrics")
        return cls(**{k: card[k] for k in named if k in card and k != "metrics"},
                   metrics=metrics if isinstance(metrics, dict) else {},
                   extra={k: v for k, v in card.items() if k not in named})

    @classmethod
    def from_json(cls, text: str, *, where: str = "The adapter card") -> "AdapterCard":
        try:
            card = json.loads(text)
        except ValueError as exc:
            raise AdapterError(f"{where} is damaged (not valid JSON: {exc}).") from exc
        return cls.from_dict(card, where=where)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **out}

    def to_json(self) -> str:
        return card_text(self.to_dict())

    @property
    def query_precision(self) -> str | None:
        """The number format the tuner's queries ran in (tuning/backbones/precision.py), where the card says it."""
        return self.metrics.get("query_precision")
