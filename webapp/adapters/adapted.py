"""What a sparse adapter (adapt='sparse') changed, from its file: the tuned groups and their
parameter counts, for the report, the version page and the form's "how many weights is that" on a backbone.

The card's `sparse` section (tuning/sparse/setup.py) is summarised once, when the version is stored
(from a job or uploaded), into `AdapterVersion.metrics["adapted"]`; pages read that, never the file.
A card without that section (edited by hand, or from another tool) still has its tensors: the
summary then counts the changed weights per parameter from the safetensors header."""

from __future__ import annotations

import json
import math

from webapp.adapters.models import AdapterVersion
from webapp.integrations.tuning import DELTA_INDICES, DELTA_PREFIX, AdapterCard


def adapted_summary(card: AdapterCard, weights: bytes | None = None) -> dict | None:
    """{"image_parameters", "image_blocks", "parameter_budget", "parameters_changed", "allocation",
    "probes_per_group", "prompt_coordinates", "head_coordinates", "image_coordinates", "groups": the tuned
    image groups [{"group", "parameters", "changed", "sensitivity"}]}; None for a prompt-only adapter.
    From the card's `sparse` section; without one, from the tensors in `weights` (adapter.safetensors)."""
    sparse = card.extra.get("sparse")
    if not isinstance(sparse, dict):
        return _summary_from_tensors(tensor_shapes(weights)) if weights else None
    vision = sparse.get("vision") or {}
    dims = sparse.get("dims") or {}
    return {
        "image_parameters": vision.get("image_parameters"),
        "image_blocks": vision.get("image_blocks"),
        "parameter_budget": vision.get("parameter_budget"),
        "parameters_changed": vision.get("parameters_changed"),
        "allocation": vision.get("allocation"),
        "probes_per_group": vision.get("probes_per_group"),
        "prompt_coordinates": dims.get("prompt"),
        "head_coordinates": dims.get("head"),
        "image_coordinates": dims.get("vision"),
        "groups": [g for g in vision.get("groups") or [] if isinstance(g, dict) and g.get("changed")],
    }


def tensor_shapes(weights: bytes) -> dict[str, list[int]]:
    """Name -> shape of each tensor in a safetensors file, from its JSON header (8 bytes of length, then
    the header); no tensor is read. {} for bytes that are not such a file."""
    try:
        size = int.from_bytes(weights[:8], "little")
        header = json.loads(weights[8:8 + size])
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(header, dict):
        return {}
    return {name: list(info.get("shape") or []) for name, info in header.items()
            if name != "__metadata__" and isinstance(info, dict)}


def _summary_from_tensors(shapes: dict[str, list[int]]) -> dict | None:
    """What the file itself shows: the changed entries of each image-model parameter, the prompt's and
    the head's sizes. How many weights the image model has, and how the parts were chosen, only the
    card can say: None here."""
    changed = {name[len(DELTA_PREFIX):-len(DELTA_INDICES)]: math.prod(shape) for name, shape in shapes.items()
               if name.startswith(DELTA_PREFIX) and name.endswith(DELTA_INDICES)}
    if not changed and "head_delta" not in shapes:
        return None
    return {
        "image_parameters": None, "image_blocks": None, "parameter_budget": None,
        "parameters_changed": sum(changed.values()), "allocation": None, "probes_per_group": None,
        "prompt_coordinates": math.prod(shapes["w"]) if "w" in shapes else None,
        "head_coordinates": None, "image_coordinates": None,
        "groups": [{"group": name, "parameters": None, "changed": n, "sensitivity": None}
                   for name, n in sorted(changed.items()) if n],
    }


def backbone_image_size(backbone: str) -> dict | None:
    """{"image_parameters", "image_blocks"} of a backbone's image model, as the latest sparse adapter
    tuned on it recorded them; None before the first one (the web process never loads a model)."""
    metrics = (AdapterVersion.objects.filter(backbone=backbone, metrics__adapted__image_parameters__isnull=False)
               .order_by("-created_at", "-pk").values_list("metrics", flat=True).first())
    if not metrics:
        return None
    adapted = metrics["adapted"]
    return {"image_parameters": adapted.get("image_parameters"), "image_blocks": adapted.get("image_blocks")}


_ROLE_WORDS = {"ln": "LayerNorm gains and biases", "bias": "attention and MLP biases", "attn": "attention weights",
               "mlp": "MLP weights"}
_FINAL_WORDS = {"final.ln": "final LayerNorm", "final.proj": "projection into the shared feature space"}


def group_label(name: str) -> str:
    """'block3.mlp' -> 'block 4: MLP weights' (blocks counted from 1, as people count)."""
    if name in _FINAL_WORDS:
        return _FINAL_WORDS[name]
    block, _, role = name.partition(".")
    if block.startswith("block") and block[5:].isdigit():
        return f"block {int(block[5:]) + 1}: {_ROLE_WORDS.get(role, role)}"
    return name


def adapted_report(metrics: dict | None) -> dict | None:
    """The report's "What the adapter changed" section from a version's metrics; None for a prompt-only adapter."""
    adapted = (metrics or {}).get("adapted")
    if not adapted:
        return None
    total, changed = adapted.get("image_parameters"), adapted.get("parameters_changed") or 0
    top = max((g.get("sensitivity") or 0 for g in adapted["groups"]), default=0)
    rows = [{"label": group_label(g["group"]), "parameters": g.get("parameters"), "changed": g.get("changed"),
             "sensitivity": (g["sensitivity"] / top) if top and g.get("sensitivity") is not None else None}
            for g in adapted["groups"]]
    return {**adapted, "rows": rows, "share_changed": (changed / total) if total else None}
