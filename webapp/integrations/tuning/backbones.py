"""What the tuner offers as backbones (tuning/backbones/catalogue.py, light: nothing is loaded here)."""
from __future__ import annotations

from tuning.backbones.catalogue import DEFAULT_BACKBONE, BackboneInfo, backbone_for_card, list_backbones

__all__ = ["BackboneInfo", "backbone_for_card", "default_backbone", "registered_backbones", "runnable_backbones"]


def registered_backbones() -> list[BackboneInfo]:
    """The registered backbones (register plugins first: webapp.jobs.backbones.load_plugins)."""
    return list_backbones()


def default_backbone() -> str:
    return DEFAULT_BACKBONE


def runnable_backbones() -> list[dict]:
    """On a worker: the real CLIP backbones it can run, each with its weights' sha256 and size
    (tuning/backbones/inventory.py; reads caches and hashes files, so never in a web process)."""
    from django.conf import settings

    from tuning.backbones.inventory import runnable_backbones as inventory

    return inventory(list(settings.TUNING_LOCAL_CHECKPOINTS), online=settings.TUNING_WORKER_ONLINE)
