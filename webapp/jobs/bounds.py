"""The real bounds of a launch, said in one place: the shots the chosen dataset allows and the fewest queries
the chosen method needs (the tuner's minimum_budget, with what the web side knows of the backbone and the
dataset). The launch form shows them as the page opens, estimate.json serves them as its values change
(static/js/job_form.js), and a launch below the minimum is refused with the same figure (services.py). The
tuner's own limits (1 to 1,000 shots, 1 to 10,000,000 queries) are far wider than what a given dataset and
method accept, so quoting them misled."""
from __future__ import annotations

from webapp.adapters.adapted import backbone_image_size
from webapp.datasets.selectors import dataset_version_max_shots
from webapp.integrations.tuning import (
    NO_QUERY_METHODS,
    SPARSE_METHODS,
    ConfigError,
    TuneConfig,
    method_label,
    minimum_budget,
    tune_config,
)


def sparse_image_blocks(cfg: TuneConfig) -> int | None:
    """The backbone's image blocks, which a sparse adapter's sensitivity probes visit (None: not known yet, or
    not a sparse adapter)."""
    return (backbone_image_size(cfg.backbone) or {}).get("image_blocks") if cfg.adapt == "sparse" else None


def budget_minimum(cfg: TuneConfig, num_classes: int | None = None) -> int:
    """The fewest queries a launch of `cfg` on a dataset of `num_classes` classes needs."""
    return minimum_budget(cfg, image_blocks=sparse_image_blocks(cfg), num_classes=num_classes)


def launch_bounds(*, version, method: str, adapt: str, backbone: str, shots: int | None) -> dict:
    """{"shots": sentence or "", "budget": sentence or ""}; a sentence is left empty while its inputs are
    missing or not valid (the form reports those in words of its own)."""
    bounds = {"shots": "", "budget": ""}
    if version is not None:
        most = dataset_version_max_shots(version)
        bounds["shots"] = (f"This dataset allows 1 to {most} shots per class." if most else
                           "This dataset has a class too small for even 1 shot.")
    if method in NO_QUERY_METHODS:
        bounds["budget"] = f"{method_label(method)} fits in one pass and spends no query budget."
        return bounds
    try:
        cfg = tune_config({"method": method, "adapt": adapt if method in SPARSE_METHODS else "prompt",
                           "backbone": backbone, **({"shots": shots} if shots else {})})
    except ConfigError:
        return bounds
    classes = len(version.class_counts or {}) if version is not None else 0
    least = budget_minimum(cfg, num_classes=classes or None)
    bounds["budget"] = f"{method_label(method)} needs at least {least:,} queries with these settings."
    return bounds
