"""The one door between the web app and the tuner: what the web app uses of `tuning` comes through this
package, so the tuner's rules (how a dataset splits, which settings and methods exist, what an adapter
card says) are stated once, in the tuner, and `grep "import tuning" webapp/` finds the corridor.

Light at import: only the tuner's light modules (splits, config, methods, stages, card, backbone ids,
errors; no torch) are imported here. What needs torch (loading an adapter or a backbone, evaluating) is
imported inside the functions of `.adapters`, and only a worker calls those. The worker runtime
(webapp/jobs execution, reasons) drives `tuning.tune` itself.
"""
from __future__ import annotations

from tuning.backbones.ids import parse_backbone_id
from tuning.backbones.prompt_length import prompt_tokens_estimate
from tuning.card import DELTA_INDICES, DELTA_PREFIX, AdapterCard, gelu_build_note, tuned_on_a_gelu_build
from tuning.config import TuneConfig
from tuning.errors import AdapterError, BackboneError, CheckpointMismatch, ConfigError, DataError, TuningError
from tuning.methods import CURVES, NO_QUERY_METHODS, SHARPNESS_METHODS, SPARSE_METHODS, Method, MetricPointDict, Stage
from tuning.methods import LABELS as _LABELS
from tuning.splits import HELD_OUT_PER_CLASS, min_images_per_class, split_sizes

from .backbones import backbone_for_card, default_backbone, registered_backbones
from .config import (
    allowed_range,
    default_shots,
    minimum_budget,
    queries_to_spend,
    sensitivity_groups,
    tune_config,
    tune_fields,
)

METHOD_LABELS = {method.value: label for method, label in _LABELS.items()}  # 'cmaes' -> 'CMA-ES'


def method_label(method: str) -> str:
    """'CMA-ES' for 'cmaes'; a name no method has (an old or foreign record) as it is."""
    return METHOD_LABELS.get(method, method)


__all__ = ["CURVES", "DELTA_INDICES", "DELTA_PREFIX", "AdapterCard", "AdapterError", "BackboneError",
           "CheckpointMismatch", "ConfigError", "DataError", "HELD_OUT_PER_CLASS", "METHOD_LABELS", "Method",
           "MetricPointDict", "NO_QUERY_METHODS", "SHARPNESS_METHODS", "SPARSE_METHODS", "Stage", "TuneConfig",
           "TuningError", "allowed_range", "backbone_for_card", "default_backbone", "default_shots",
           "gelu_build_note", "method_label", "min_images_per_class", "minimum_budget", "parse_backbone_id",
           "prompt_tokens_estimate", "queries_to_spend", "registered_backbones", "sensitivity_groups",
           "split_sizes", "tune_config", "tune_fields", "tuned_on_a_gelu_build"]
