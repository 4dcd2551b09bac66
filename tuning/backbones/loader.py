"""Backbone registry: one place that turns a backbone id into a loaded, frozen CLIP model.

Ids: "demo" and "demo-v1" (the project's own backbone and its older version, see
tuning/demo_backbone), "<arch>:<pretrained_tag>" (open_clip download/cache), "<arch>@/path/to/ckpt.pt"
(local checkpoint for air-gapped sites) and names registered with `register_backbone`. Loaded
backbones are cached per process so a worker loads its backbone once and keeps it between jobs.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from .ids import parse_backbone_id
from .catalogue import DEFAULT_BACKBONE, LOCK, REGISTRY, BackboneInfo, Entry
from .catalogue import list_backbones, register_backbone  # noqa: F401  (their old home)
from ..errors import BackboneError

@dataclass
class Backbone:
    id: str
    model: Any
    preprocess: Callable
    tokenizer: Callable
    device: torch.device
    checkpoint_sha256: str | None
    is_demo: bool = False
    embed_dim: int = 0
    label: str = ""
    # The fast number format for inference (image features, deployment): bf16 (fp16 on older GPUs)
    # under autocast on CUDA, plain fp32 (None) on the CPU. Finite differences never use it: see
    # tuning/backbones/precision.py.
    autocast_dtype: torch.dtype | None = None


# (entry, backbone): a cached model counts only while its id is still registered with that entry
_CACHE: dict[tuple[str, str], tuple[Entry | None, Backbone]] = {}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackboneError(f"Device '{device}' was asked for but this machine has no usable CUDA GPU; "
                            "use device 'auto' or 'cpu'.")
    return torch.device(device)


def fast_dtype(device: torch.device) -> torch.dtype | None:
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def load_backbone(backbone_id: str = DEFAULT_BACKBONE, *, device: str | torch.device = "auto") -> Backbone:
    dev = resolve_device(device)
    key = (backbone_id, str(dev))
    with LOCK:
        if key not in _CACHE or _CACHE[key][0] is not REGISTRY.get(backbone_id):
            backbone = _load_uncached(backbone_id, dev)
            _CACHE[key] = (REGISTRY.get(backbone_id), backbone)  # after loading: "demo" registers itself then
        return _CACHE[key][1]


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------- loading

def _load_uncached(backbone_id: str, device: torch.device) -> Backbone:
    if backbone_id in REGISTRY:
        loaded = REGISTRY[backbone_id].loader(device)
        return _finish(loaded, backbone_id, device, REGISTRY[backbone_id].info)
    ref = parse_backbone_id(backbone_id)
    arch, path, tag = ref.arch, ref.checkpoint_path, ref.pretrained_tag
    if path is not None:
        return _finish(_load_local_checkpoint(arch, path, device), backbone_id, device,
                       BackboneInfo(backbone_id, arch, f"open_clip {arch} from {path}"))
    if tag is not None:
        return _finish(_load_pretrained_tag(arch, tag, device), backbone_id, device,
                       BackboneInfo(backbone_id, f"{arch} ({tag})", f"open_clip {arch}, pretrained {tag}"))
    known = ", ".join(sorted(REGISTRY)) or "none"
    raise BackboneError(f"Unknown backbone '{backbone_id}'. Registered backbones: {known}. Other forms: "
                        "'<arch>:<pretrained_tag>' or '<arch>@/path/to/checkpoint.pt'.")


def _finish(loaded: Any, backbone_id: str, device: torch.device, info: BackboneInfo) -> Backbone:
    if isinstance(loaded, Backbone):
        bb = loaded
        bb.id = backbone_id
        bb.device = device
    else:
        model, preprocess, tokenizer, sha = tuple(loaded)[:4]
        bb = Backbone(id=backbone_id, model=model, preprocess=preprocess, tokenizer=tokenizer, device=device,
                      checkpoint_sha256=sha, is_demo=info.is_demo, label=info.label)
    bb.model = bb.model.to(device).eval()
    bb.autocast_dtype = fast_dtype(device)
    for p in bb.model.parameters():  # frozen: forward-only tuning never changes the backbone
        p.requires_grad_(False)
    if not bb.embed_dim:
        with torch.no_grad():
            bb.embed_dim = int(bb.model.encode_text(bb.tokenizer(["a"]).to(device)).shape[-1])
    bb.label = bb.label or info.label
    return bb


def _open_clip():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import open_clip
    return open_clip


def _register_arch_config_beside(arch: str, ckpt: Path) -> None:
    """An air-gapped site may use an architecture open_clip does not ship: accept its config JSON
    placed next to the checkpoint as <arch>.json (or <checkpoint stem>.json)."""
    open_clip = _open_clip()
    if arch in open_clip.list_models():
        return
    for candidate in (ckpt.parent / f"{arch}.json", ckpt.with_suffix(".json")):
        if candidate.is_file():
            if candidate.stem != arch:  # open_clip names a config after its file
                raise BackboneError(f"Found {candidate} but its name must be '{arch}.json' to define "
                                    f"architecture '{arch}'.")
            open_clip.add_model_config(candidate)
            return


def _load_local_checkpoint(arch: str, path: str, device: torch.device):
    open_clip = _open_clip()
    ckpt = Path(path).expanduser()
    if not ckpt.is_file():
        raise BackboneError(f"Checkpoint file not found: {ckpt}. Copy the CLIP checkpoint to this machine and "
                            f"use the backbone id '{arch}@/full/path/to/the/file.pt'.")
    _register_arch_config_beside(arch, ckpt)
    if arch not in open_clip.list_models():
        raise BackboneError(f"Unknown open_clip architecture '{arch}'. Use one of open_clip's architectures "
                            f"(e.g. ViT-B-32) or put its config next to the checkpoint as {ckpt.parent / (arch + '.json')}.")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=None, device="cpu")
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
        model.load_state_dict(state)
    except BackboneError:
        raise
    except Exception as exc:
        raise BackboneError(f"Could not load checkpoint {ckpt} into architecture '{arch}': {exc}") from exc
    return model, preprocess, open_clip.get_tokenizer(arch), file_sha256(ckpt)


def _load_pretrained_tag(arch: str, tag: str, device: torch.device):
    open_clip = _open_clip()
    if arch not in open_clip.list_models():
        raise BackboneError(f"Unknown open_clip architecture '{arch}' in backbone id '{arch}:{tag}'.")
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise BackboneError(f"open_clip has no pretrained tag '{tag}' for {arch}. Known tags: {tags}.")
    try:
        weights = open_clip.download_pretrained(cfg)
    except Exception as exc:
        wanted = []
        if cfg.get("hf_hub"):
            repo, filename = os.path.split(cfg["hf_hub"])
            names = f"'{filename}'" if filename else "'open_clip_model.safetensors' (or 'open_clip_pytorch_model.bin')"
            wanted.append(f"{names} from the Hugging Face repo '{repo}'")
        if cfg.get("url"):
            wanted.append(f"{cfg['url']}")
        raise BackboneError(
            f"Could not get the weights of {arch}:{tag}; this machine seems to be offline. It wanted "
            f"{' or '.join(wanted)}. To install them without internet: download that file on another "
            f"machine, copy it here and use the backbone id '{arch}@/path/to/that/file'. "
            f"(Details: {type(exc).__name__}: {str(exc).splitlines()[0][:300]})") from exc
    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=weights, device="cpu")
    return model, preprocess, open_clip.get_tokenizer(arch), file_sha256(weights)


def load_demo(device: torch.device, version=None):
    """A version of the project's own backbone (tuning/demo_backbone; None: the newest), built on the
    CPU, then moved to `device`."""
    from .. import demo_backbone

    model, preprocess, tokenizer, sha = demo_backbone.create_demo_model(device="cpu", version=version)
    return model.to(device), preprocess, tokenizer, sha

