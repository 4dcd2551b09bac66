"""Forward-only CLIP prompt tuning (SharpZO and baselines). A plain library: no Django, no Celery.

See tuning/API.md for the contract and tuning/README.md for the algorithm and a map of the rooms:
the entry point (`tuner`), a run's state (`runner`), the loss (`objective`), settings (`config`), data,
adapter files and their cards, quality figures; `backbones/`, `methods/` and `sparse/` below them.

The names below are loaded when first used (PEP 562): `import tuning.config` or `tuning.list_backbones()`
stays light, so a web process that only lists what the tuner offers never imports torch or open_clip.
"""
import importlib

from .version import __version__

_HOME = {  # exported name -> the submodule that defines it
    **dict.fromkeys(["Adapter", "Prediction", "apply_adapter", "check_compatible", "load_adapter", "predict",
                     "save_adapter"], "adapter"),
    **dict.fromkeys(["DEFAULT_BACKBONE", "BackboneInfo", "backbone_for_card", "list_backbones", "register_backbone"],
                   "backbones.catalogue"),
    **dict.fromkeys(["Backbone", "load_backbone"], "backbones.loader"),
    "AdapterCard": "card",
    **dict.fromkeys(["BackboneId", "parse_backbone_id"], "backbones.ids"),
    "FileCheckpoint": "checkpoint",
    **dict.fromkeys(["METHODS", "TuneConfig"], "config"),
    **dict.fromkeys(["FewShotData", "Split", "load_image_folder"], "data"),
    **dict.fromkeys(["AdapterError", "BackboneError", "BudgetExceeded", "CheckpointMismatch", "ConfigError",
                     "DataError", "TuningError"], "errors"),
    **dict.fromkeys(["Evaluation", "evaluate"], "evaluation"),
    **dict.fromkeys(["ClassDrop", "Quality", "Recommendation", "balanced_accuracy", "beats_zero_shot",
                     "not_better_sentence", "quality_of", "recall_drops", "recommend", "wilson_interval"], "quality"),
    **dict.fromkeys(["Method", "Stage"], "methods"),
    **dict.fromkeys(["TuneResult", "tune"], "tuner"),
}
__all__ = [*_HOME, "__version__"]


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOME))

