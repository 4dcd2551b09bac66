"""Forward-only CLIP prompt tuning (SharpZO and baselines). A plain library: no Django, no Celery.

See tuning/API.md for the contract and DESIGN.md sections 3-6 for the algorithm.

The names below are loaded when first used (PEP 562): `import tuning.config` or `tuning.list_backbones()`
stays light, so a web process that only lists what the tuner offers never imports torch or open_clip.
"""
import importlib
import sys
import types

_HOME = {  # exported name -> the submodule that defines it
    **dict.fromkeys(["Adapter", "Prediction", "apply_adapter", "check_compatible", "load_adapter", "predict",
                     "save_adapter"], "adapter"),
    **dict.fromkeys(["DEFAULT_BACKBONE", "BackboneInfo", "backbone_for_card", "list_backbones", "register_backbone"],
                   "catalogue"),
    **dict.fromkeys(["Backbone", "load_backbone"], "backbones"),
    "AdapterCard": "card",
    **dict.fromkeys(["BackboneId", "parse_backbone_id"], "backbone_ids"),
    "FileCheckpoint": "checkpoint",
    **dict.fromkeys(["METHODS", "TuneConfig"], "config"),
    **dict.fromkeys(["FewShotData", "Split", "load_image_folder"], "data"),
    **dict.fromkeys(["AdapterError", "BackboneError", "BudgetExceeded", "CheckpointMismatch", "ConfigError",
                     "DataError", "TuningError"], "errors"),
    **dict.fromkeys(["Evaluation", "evaluate"], "evaluate"),
    **dict.fromkeys(["ClassDrop", "Quality", "Recommendation", "balanced_accuracy", "beats_zero_shot",
                     "not_better_sentence", "quality_of", "recall_drops", "recommend", "wilson_interval"], "quality"),
    "Method": "methods",
    "Stage": "stages",
    **dict.fromkeys(["TuneResult", "__version__", "tune"], "tune"),
}
__all__ = [name for name in _HOME if name != "__version__"]


def _export(name: str):
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = _export(name)
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOME))


class _Package(types.ModuleType):
    """`tuning.tune` and `tuning.evaluate` are functions named like their modules. Importing the module
    tuning.tune makes Python set the package attribute `tune` to that module; these properties keep
    the attribute the function whatever was imported first (the setter ignores the module)."""

    tune = property(lambda self: _export("tune"), lambda self, module: None)
    evaluate = property(lambda self: _export("evaluate"), lambda self, module: None)


sys.modules[__name__].__class__ = _Package
