"""What the tuner offers as backbones (tuning/backbones/catalogue.py, light: nothing is loaded here)."""
from __future__ import annotations

from tuning.backbones.catalogue import DEFAULT_BACKBONE, BackboneInfo, backbone_for_card, list_backbones

__all__ = ["BackboneInfo", "backbone_for_card", "default_backbone", "registered_backbones"]


def registered_backbones() -> list[BackboneInfo]:
    """The registered backbones (register plugins first: webapp.jobs.backbones.load_plugins)."""
    return list_backbones()


def default_backbone() -> str:
    return DEFAULT_BACKBONE
