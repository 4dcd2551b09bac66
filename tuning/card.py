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

from .backbones.ids import parse_backbone_id
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
# Pretrained tags whose weights were trained with QuickGELU, from open_clip's table of tags (a test holds
# the two equal): before cards recorded their backbone's loading spec, the loader built these with GELU.
QUICK_GELU_TAGS = frozenset({"openai", "yfcc15m", "cc12m", "metaclip_400m", "metaclip_fullcc", "dfn2b", "dfn5b"})
QUICK_GELU_ON = {"laion400m_e31": {"ViT-B-32"}, "laion400m_e32": {"ViT-B-32"},
                 "metaclip2_worldwide": {"ViT-H-14-worldwide"}}


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
    # every other key (ctx_init, head, cache, sparse...), as written
    extra: dict[str, Any] = field(default_factory=dict)

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
    def backbone_loading(self) -> dict | None:
        """How the backbone's weights became the model it was tuned on (tuning/backbones/loading_spec.py);
        None on cards written before it was recorded, and for the demo backbone."""
        return self.extra.get("backbone_loading")

    @property
    def gelu_build_note(self) -> str | None:
        return gelu_build_note(self.to_dict())

    @property
    def query_precision(self) -> str | None:
        """The number format the tuner's queries ran in (tuning/backbones/precision.py), where the card says it."""
        return self.metrics.get("query_precision")


def tuned_on_a_gelu_build(card: dict) -> bool:
    """True for an adapter tuned, before the loader applied a tag's settings, on weights trained with
    QuickGELU: its backbone was built with GELU, so its features were not the ones the weights give."""
    ref = parse_backbone_id(str(card.get("backbone_id", "")))
    if "backbone_loading" in card or ref.arch is None or ref.pretrained_tag is None or ref.checkpoint_path is not None:
        return False
    tag = ref.pretrained_tag.lower().replace("-", "_")
    return "quickgelu" not in ref.arch and (tag in QUICK_GELU_TAGS or ref.arch in QUICK_GELU_ON.get(tag, ()))


def gelu_build_note(card: dict) -> str | None:
    """What an adapter tuned on a GELU build says when it is loaded or evaluated (None for the others)."""
    if not tuned_on_a_gelu_build(card):
        return None
    return (f"This adapter was tuned on {card['backbone_id']} built with GELU, but these weights were trained "
            "with QuickGELU; the backbone is now built as they were trained, so its predictions may be off. "
            "Tune it again on this backbone.")
