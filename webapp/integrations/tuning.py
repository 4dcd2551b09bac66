"""The one door between the web app and the tuner: what the web app uses of `tuning` comes through here,
so the tuner's rules (how a dataset splits, which settings exist) are stated once, in the tuner."""
from __future__ import annotations

from tuning.config import TuneConfig
from tuning.splits import HELD_OUT_PER_CLASS, min_images_per_class, split_sizes

__all__ = ["HELD_OUT_PER_CLASS", "default_shots", "min_images_per_class", "split_sizes"]


def default_shots() -> int:
    """The tuner's default number of shots (a dataset page shows its split at it)."""
    return TuneConfig().shots
