"""How a backbone's weights became a model, written down so another machine builds the same one.

A pretrained tag is more than a download address: open_clip's table of tags also says how the weights
were trained to be used (QuickGELU or GELU, the images' mean and std, how they are resized and
interpolated). `tag_settings` reads that part; `LoadingSpec` records what the loaded model really has,
and an adapter card keeps it (`to_card`), so `predict` on a line PC can tell whether its model is the one
the adapter was tuned on (`differences`)."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

# The settings a pretrained tag may carry beyond its download address.
TAG_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


def tag_settings(pretrained_cfg: dict) -> dict:
    """The tag's build and preprocessing settings (an empty dict: the architecture's own)."""
    settings = {k: pretrained_cfg[k] for k in TAG_PREPROCESS_KEYS if pretrained_cfg.get(k) is not None}
    if pretrained_cfg.get("quick_gelu"):
        settings["quick_gelu"] = True
    if pretrained_cfg.get("context_length"):
        settings["context_length"] = int(pretrained_cfg["context_length"])
    return settings


@dataclass(frozen=True)
class LoadingSpec:
    """What decides a backbone's features, read from the built model (not from what was asked for)."""
    weights_format: str  # 'torchscript' (OpenAI's archives), 'state_dict', 'safetensors', 'hf-cache'
    quick_gelu: bool
    preprocess: dict = field(default_factory=dict)  # size, mean, std, interpolation, resize_mode
    context_length: int | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    arch: str | None = None
    pretrained_tag: str | None = None

    def to_card(self) -> dict:
        return _plain(asdict(self))


def _plain(value):
    """JSON's view of a value (tuples become lists), so a spec compares equal to the one read back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def file_size(path) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def differences(recorded: dict, loaded: dict) -> list[str]:
    """What differs between the spec an adapter card recorded and the loaded backbone's, in words;
    empty when the loaded model is the one the adapter was tuned on."""
    out = []
    if recorded.get("sha256") and loaded.get("sha256") and recorded["sha256"] != loaded["sha256"]:
        out.append(f"the weights file differs (sha256 {recorded['sha256'][:12]}... in the adapter, "
                   f"{loaded['sha256'][:12]}... here)")
    if bool(recorded.get("quick_gelu")) != bool(loaded.get("quick_gelu")):
        out.append(f"the adapter was tuned on a model built with {_activation(recorded)}, but this one is built "
                   f"with {_activation(loaded)}")
    want, have = _plain(recorded.get("preprocess") or {}), _plain(loaded.get("preprocess") or {})
    for key in ("size",) + TAG_PREPROCESS_KEYS:
        if key in want and key in have and want[key] != have[key]:
            out.append(f"images are prepared with {key} {have[key]} here, {want[key]} when it was tuned")
    if recorded.get("context_length") and loaded.get("context_length") \
            and recorded["context_length"] != loaded["context_length"]:
        out.append(f"text is cut at {loaded['context_length']} tokens here, {recorded['context_length']} "
                   "when it was tuned")
    return out


def _activation(spec: dict) -> str:
    return "QuickGELU" if spec.get("quick_gelu") else "GELU"
