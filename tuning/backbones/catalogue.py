"""What the tuner offers, published without loading it: the backbone ids a job may name (the
registry), and the default one. Light on purpose (no torch): a web process lists backbones for a
form from here and never imports the heavy modules; tuning/backbones/loader.py loads an entry when a job
runs."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from .. import demo_backbone  # light: its names and paths (the model loads in tuning.backbones.loader)
from .ids import parse_backbone_id

DEFAULT_BACKBONE = demo_backbone.BACKBONE_ID


@dataclass(frozen=True)
class BackboneInfo:
    id: str
    label: str
    description: str
    is_demo: bool = False


@dataclass(frozen=True)
class Entry:
    info: BackboneInfo
    loader: Callable[[Any], Any]  # loader(torch.device)


REGISTRY: dict[str, Entry] = {}
LOCK = threading.RLock()


def register_backbone(id: str, loader: Callable[[Any], Any], *, label: str | None = None,
                      description: str = "", is_demo: bool = False) -> None:
    """Register a backbone id. `loader(device)` returns a Backbone, or a tuple
    (model, preprocess, tokenizer, checkpoint_sha256). It is called lazily, once per process and device
    (registering an id again makes the next load use the new loader)."""
    if not parse_backbone_id(id).is_name:
        raise ValueError("Registered backbone ids may not contain ':' or '@' (those select open_clip loading).")
    with LOCK:
        REGISTRY[id] = Entry(BackboneInfo(id, label or id, description, is_demo), loader)


def list_backbones() -> list[BackboneInfo]:
    return [e.info for e in REGISTRY.values()]


def backbone_for_card(backbone_id: str, sha256: str | None = None) -> str:
    """The backbone id to load for an adapter card's (backbone_id, backbone_sha256). The same as the
    card's id, except for the demo backbone: "demo" named other weights before it was renewed, so
    its sha256 picks the version (BackboneError, in words, when none installed has those weights)."""
    version = demo_backbone.version_for_card(backbone_id, sha256)
    return version.id if version is not None else backbone_id


def _demo_loader(version):
    def load_demo_backbone(device):
        from .loader import load_demo  # torch and open_clip: only when a job runs on the demo backbone

        return load_demo(device, version)

    return load_demo_backbone


for _version in demo_backbone.VERSIONS:
    register_backbone(_version.id, _demo_loader(_version), label=_version.label,
                      description=_version.description, is_demo=True)
