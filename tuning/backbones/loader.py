"""Backbone registry: one place that turns a backbone id into a loaded, frozen CLIP model.

Ids (tuning/backbones/ids.py): "demo" and "demo-v1" (the project's own backbone and its older version, see
tuning/demo_backbone), names registered with `register_backbone`, and open_clip models: a pretrained tag
("<arch>:<tag>", downloaded or cached), a local file of that tag ("<arch>:<tag>@/path", for air-gapped
sites), or a Hugging Face cache folder ("hf-hub:org/name"). Every open_clip model is built as its weights
were trained: the tag's settings applied (tuning/backbones/open_clip_files.py). Loaded
backbones are cached per process so a worker loads its backbone once and keeps it between jobs.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import BackboneError
from .catalogue import DEFAULT_BACKBONE, LOCK, REGISTRY, BackboneInfo, Entry
from .catalogue import list_backbones as list_backbones  # re-exported: their old home
from .catalogue import register_backbone as register_backbone
from .ids import parse_backbone_id
from .loading_spec import TAG_PREPROCESS_KEYS, LoadingSpec, file_size, tag_settings
from .open_clip_files import build_from_file, build_from_hf_cache, open_clip_module, uses_quick_gelu, weights_format


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
    # How an open_clip backbone's weights became this model (tuning/backbones/loading_spec.py); None for the
    # demo backbone and registered ones, whose name and sha256 say it all.
    spec: LoadingSpec | None = None


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
    if ref.hf_repo is not None:
        return _finish(_load_hf_cache(ref.hf_repo), backbone_id, device,
                       BackboneInfo(backbone_id, ref.hf_repo, f"open_clip {ref.hf_repo} from the Hugging Face cache"))
    if ref.is_name:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise BackboneError(f"Unknown backbone '{backbone_id}'. Registered backbones: {known}. Other forms: "
                            "'<arch>:<pretrained_tag>', '<arch>:<pretrained_tag>@/path/to/checkpoint' or "
                            "'hf-hub:<org>/<name>'.")
    assert ref.arch is not None  # neither a name nor a Hugging Face repo: an open_clip architecture
    settings = _settings_of_tag(ref.arch, ref.pretrained_tag) if ref.pretrained_tag else {}
    shown = ref.without_path
    if ref.checkpoint_path is not None:
        return _finish(_load_local_checkpoint(ref.arch, ref.pretrained_tag, settings, ref.checkpoint_path),
                       backbone_id, device,
                       BackboneInfo(backbone_id, shown, f"open_clip {shown} from {ref.checkpoint_path}"))
    assert ref.pretrained_tag is not None  # an architecture comes with a tag, a path or both
    return _finish(_load_pretrained_tag(ref.arch, ref.pretrained_tag, settings), backbone_id, device,
                   BackboneInfo(backbone_id, f"{ref.arch} ({ref.pretrained_tag})",
                                f"open_clip {ref.arch}, pretrained {ref.pretrained_tag}"))


def _finish(loaded: Any, backbone_id: str, device: torch.device, info: BackboneInfo) -> Backbone:
    if isinstance(loaded, Backbone):
        bb = loaded
        bb.id = backbone_id
        bb.device = device
    else:
        parts = tuple(loaded)  # (model, preprocess, tokenizer, sha256[, LoadingSpec])
        model, preprocess, tokenizer, sha = parts[:4]
        spec = parts[4] if len(parts) > 4 else None
        bb = Backbone(id=backbone_id, model=model, preprocess=preprocess, tokenizer=tokenizer, device=device,
                      checkpoint_sha256=sha, is_demo=info.is_demo, label=info.label, spec=spec)
    bb.model = bb.model.to(device).eval()
    bb.autocast_dtype = fast_dtype(device)
    for p in bb.model.parameters():  # frozen: forward-only tuning never changes the backbone
        p.requires_grad_(False)
    if not bb.embed_dim:
        with torch.no_grad():
            bb.embed_dim = int(bb.model.encode_text(bb.tokenizer(["a"]).to(device)).shape[-1])
    bb.label = bb.label or info.label
    return bb


def _register_arch_config_beside(arch: str, ckpt: Path) -> None:
    """An air-gapped site may use an architecture open_clip does not ship: accept its config JSON
    placed next to the checkpoint as <arch>.json (or <checkpoint stem>.json)."""
    open_clip = open_clip_module()
    if arch in open_clip.list_models():
        return
    for candidate in (ckpt.parent / f"{arch}.json", ckpt.with_suffix(".json")):
        if candidate.is_file():
            if candidate.stem != arch:  # open_clip names a config after its file
                raise BackboneError(f"Found {candidate} but its name must be '{arch}.json' to define "
                                    f"architecture '{arch}'.")
            open_clip.add_model_config(candidate)
            return


def _settings_of_tag(arch: str, tag: str) -> dict:
    open_clip = open_clip_module()
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise BackboneError(f"open_clip has no pretrained tag '{tag}' for {arch}. Known tags: {tags}.")
    return tag_settings(cfg)


def _spec(model, tokenizer, weights: Path, weights_format: str, arch=None, tag=None) -> LoadingSpec:
    from open_clip.model import get_model_preprocess_cfg
    preprocess = {k: v for k, v in get_model_preprocess_cfg(model).items() if k in ("size",) + TAG_PREPROCESS_KEYS}
    return LoadingSpec(weights_format=weights_format, quick_gelu=uses_quick_gelu(model), preprocess=preprocess,
                       context_length=getattr(tokenizer, "context_length", None), sha256=file_sha256(weights),
                       size_bytes=file_size(weights), arch=arch, pretrained_tag=tag)


def _load_local_checkpoint(arch: str, tag: str | None, settings: dict, path: str):
    open_clip = open_clip_module()
    ckpt = Path(path).expanduser()
    name = f"{arch}:{tag}" if tag else arch
    if not ckpt.is_file():
        raise BackboneError(f"Checkpoint file not found: {ckpt}. Copy the CLIP checkpoint to this machine and "
                            f"use the backbone id '{name}@/full/path/to/the/file'.")
    _register_arch_config_beside(arch, ckpt)
    if arch not in open_clip.list_models():
        raise BackboneError(f"Unknown open_clip architecture '{arch}'. Use one of open_clip's architectures "
                            "(e.g. ViT-B-32) or put its config next to the checkpoint as "
                            f"{ckpt.parent / (arch + '.json')}.")
    return _build(arch, tag, settings, ckpt, where=f"checkpoint {ckpt}")


def _build(arch: str, tag: str | None, settings: dict, weights: Path, *, where: str):
    try:
        model, preprocess, tokenizer = build_from_file(arch, settings, weights)
    except BackboneError:
        raise
    except Exception as exc:
        raise BackboneError(f"Could not load {where} into architecture '{arch}': {exc}") from exc
    spec = _spec(model, tokenizer, weights, weights_format(weights), arch, tag)
    return model, preprocess, tokenizer, spec.sha256, spec


def _load_hf_cache(repo: str):
    try:
        model, preprocess, tokenizer, weights = build_from_hf_cache(repo)
    except BackboneError:
        raise
    except Exception as exc:
        raise BackboneError(f"Could not build the open_clip model '{repo}' from the Hugging Face cache: {exc}") from exc
    spec = _spec(model, tokenizer, weights, "hf-cache")
    return model, preprocess, tokenizer, spec.sha256, spec


def _load_pretrained_tag(arch: str, tag: str, settings: dict):
    open_clip = open_clip_module()
    if arch not in open_clip.list_models():
        raise BackboneError(f"Unknown open_clip architecture '{arch}' in backbone id '{arch}:{tag}'.")
    cfg = open_clip.get_pretrained_cfg(arch, tag)
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
            f"machine, copy it here and use the backbone id '{arch}:{tag}@/path/to/that/file'. "
            f"(Details: {type(exc).__name__}: {str(exc).splitlines()[0][:300]})") from exc
    return _build(arch, tag, settings, Path(weights), where=f"the weights of {arch}:{tag} ({weights})")


def load_demo(device: torch.device, version=None):
    """A version of the project's own backbone (tuning/demo_backbone; None: the newest), built on the
    CPU, then moved to `device`."""
    from .. import demo_backbone

    model, preprocess, tokenizer, sha = demo_backbone.create_demo_model(device="cpu", version=version)
    return model.to(device), preprocess, tokenizer, sha

