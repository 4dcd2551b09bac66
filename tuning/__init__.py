"""Forward-only CLIP prompt tuning (SharpZO and baselines). A plain library: no Django, no Celery.

See tuning/API.md for the contract and DESIGN.md sections 3-6 for the algorithm.
"""
from .adapter import Adapter, Prediction, apply_adapter, check_compatible, load_adapter, predict, save_adapter
from .backbones import (DEFAULT_BACKBONE, Backbone, BackboneInfo, list_backbones, load_backbone,
                        register_backbone)
from .checkpoint import FileCheckpoint
from .config import METHODS, TuneConfig
from .data import FewShotData, Split, load_image_folder
from .errors import AdapterError, BackboneError, BudgetExceeded, ConfigError, DataError, TuningError
from .evaluate import Evaluation, evaluate
from .quality import (ClassDrop, Quality, Recommendation, balanced_accuracy, beats_zero_shot, not_better_sentence,
                      quality_of, recall_drops, recommend, wilson_interval)
from .tune import TuneResult, __version__, tune

__all__ = [
    "Adapter", "AdapterError", "Backbone", "BackboneError", "BackboneInfo", "BudgetExceeded", "ConfigError",
    "DEFAULT_BACKBONE", "DataError", "Evaluation", "FewShotData", "FileCheckpoint", "METHODS", "Prediction", "Split",
    "TuneConfig",
    "TuneResult", "TuningError", "apply_adapter", "check_compatible", "evaluate", "list_backbones",
    "load_adapter", "load_backbone", "load_image_folder", "predict", "register_backbone", "save_adapter", "tune",
    "ClassDrop", "Quality", "Recommendation", "balanced_accuracy", "beats_zero_shot", "not_better_sentence",
    "quality_of", "recall_drops", "recommend", "wilson_interval",
]
