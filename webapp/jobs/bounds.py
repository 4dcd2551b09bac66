"""The real bounds of a launch, for the form's help: the shots the chosen dataset allows and the fewest
queries the chosen method needs. The tuner's own limits (1 to 1,000 shots, 1 to 10,000,000 queries) are
far wider than what a given dataset and method accept, so quoting them misled."""
from __future__ import annotations

from webapp.adapters.adapted import backbone_image_size
from webapp.datasets.selectors import dataset_version_max_shots
from webapp.integrations.tuning import NO_QUERY_METHODS, ConfigError, method_label, minimum_budget, tune_config


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
        cfg = tune_config({"method": method, "adapt": adapt, "backbone": backbone,
                           **({"shots": shots} if shots else {})})
    except ConfigError:
        return bounds
    blocks = (backbone_image_size(backbone) or {}).get("image_blocks") if adapt == "sparse" else None
    classes = len(version.class_counts or {}) if version is not None else 0
    least = minimum_budget(cfg, image_blocks=blocks, num_classes=classes or None)
    bounds["budget"] = f"{method_label(method)} needs at least {least:,} queries with these settings."
    return bounds
