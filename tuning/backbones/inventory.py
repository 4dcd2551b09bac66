"""The real CLIP backbones this machine can run, as a worker reports them to the job form and the API:
local checkpoint files an administrator listed, pretrained tags already in open_clip's caches, open_clip
repos in the Hugging Face cache, and, where the machine may download, a short recommended list. Each with
the weights' sha256 and size, so the user sees which file a job will run on."""
from __future__ import annotations

import os
from pathlib import Path

from .ids import parse_backbone_id
from .open_clip_files import hf_cache_dir, open_clip_module

# A few well-known weights to offer where the worker is online (downloaded on first use).
RECOMMENDED = ("ViT-B-16:openai", "ViT-B-32:openai", "ViT-B-16:laion2b_s34b_b88k", "ViT-L-14:openai")

_hashes: dict[tuple[str, int, float], str] = {}  # (path, size, mtime) -> sha256: a worker hashes a file once


def _entry(backbone_id: str, source: str, path: str | Path | None) -> dict:
    from .loader import file_sha256
    if path is None:
        return {"id": backbone_id, "source": source, "sha256": None, "size_bytes": None}
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime)
    if key not in _hashes:
        _hashes[key] = file_sha256(path)
    return {"id": backbone_id, "source": source, "sha256": _hashes[key], "size_bytes": stat.st_size}


def _cached_tag_file(cfg: dict) -> str | None:
    """The file a pretrained tag downloads, where it already is in this machine's caches."""
    from huggingface_hub import try_to_load_from_cache
    constants = open_clip_module().constants
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])
        for name in ([filename] if filename else [constants.HF_SAFE_WEIGHTS_NAME, constants.HF_WEIGHTS_NAME]):
            found = try_to_load_from_cache(repo, name, cache_dir=hf_cache_dir())
            if isinstance(found, str):
                return found
    if cfg.get("url"):
        candidate = Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        if candidate.is_file():
            return str(candidate)
    return None


def _cached_tags() -> tuple[list[dict], set[str]]:
    open_clip = open_clip_module()
    entries, repos = [], set()
    for arch, tag in open_clip.list_pretrained():
        if arch.endswith("-quickgelu"):  # the plain name with the tag is built with QuickGELU already
            continue
        cfg = open_clip.get_pretrained_cfg(arch, tag)
        found = _cached_tag_file(cfg)
        if found:
            entries.append(_entry(f"{arch}:{tag}", "cache", found))
            repos.add(os.path.split(cfg.get("hf_hub", ""))[0])
    return entries, repos


def _cached_hf_repos(skip: set[str]) -> list[dict]:
    """open_clip repos in the Hugging Face cache that no tag names ('hf-hub:org/name' ids)."""
    from .open_clip_files import cached_hf_folder
    entries = []
    for folder in sorted(hf_cache_dir().glob("models--*--*")):
        repo = folder.name[len("models--"):].replace("--", "/", 1)
        if repo in skip or not any(folder.glob("snapshots/*/open_clip_config.json")):
            continue
        try:
            _, weights = cached_hf_folder(repo)
        except Exception:  # noqa: BLE001 - a half-copied folder is simply not offered
            continue
        entries.append(_entry(f"hf-hub:{repo}", "cache", weights))
    return entries


def runnable_backbones(local_ids: list[str], *, online: bool = False) -> list[dict]:
    """[{"id", "source" ('local', 'cache' or 'download'), "sha256", "size_bytes"}]: what a job may name here.
    A download's sha256 and size are None until it is fetched."""
    paths = {i: parse_backbone_id(i).checkpoint_path for i in local_ids}
    entries = [_entry(i, "local", path) for i, path in paths.items() if path and Path(path).is_file()]
    tags, repos = _cached_tags()
    entries += tags + _cached_hf_repos(repos)
    if online:
        have = {e["id"] for e in entries}
        entries += [_entry(i, "download", None) for i in RECOMMENDED if i not in have]
    return entries
