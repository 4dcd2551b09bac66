"""The backbones a job may use: the tuner's registry plus the site's plugins.

`settings.TUNING_BACKBONE_PLUGINS` names modules that call `tuning.register_backbone(...)`; they are
imported once per process, in the web process (for the form) and in the worker (before loading), so
both sides see the same list. The tuner's side (its registry, the id grammar) comes through
webapp.integrations.tuning, which stays light: listing backbones loads none.
"""

from __future__ import annotations

import importlib
import threading

from django.conf import settings

from webapp.integrations.tuning import backbone_for_card, default_backbone, parse_backbone_id, registered_backbones

_lock = threading.Lock()
_imported: set[str] = set()


def load_plugins() -> None:
    with _lock:
        for module in settings.TUNING_BACKBONE_PLUGINS:
            if module not in _imported:
                importlib.import_module(module)
                _imported.add(module)


def _sha256_of(path: str) -> str | None:
    import hashlib

    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


_checkpoint_hashes: dict[str, str | None] = {}


def installed_backbone(backbone_id: str, sha256: str | None = None) -> str | None:
    """The backbone id this installation loads for an adapter card's (id, sha256), or None.

    Only registered backbones and the local checkpoints an administrator listed in
    settings.TUNING_LOCAL_CHECKPOINTS ("arch@/path"), matched by their sha256 because another site
    keeps the same weights at another path. A card's own path or download tag is never loaded: it
    would let anyone who uploads an adapter probe the worker's files or make it build any model.
    A card naming the demo backbone is matched by its sha256 to the demo version it was made with
    ("demo" named other weights before it was renewed); tuning.BackboneError, in words, when this
    installation has no demo version with those weights."""
    backbone_id = backbone_for_card(backbone_id, sha256)
    if backbone_id in {info.id for info in backbone_infos()}:
        return backbone_id
    # 'ViT-B-16:openai' for 'ViT-B-16:openai@/their/path': the same architecture built with the same tag's settings
    built_as = parse_backbone_id(backbone_id).without_path
    for configured in settings.TUNING_LOCAL_CHECKPOINTS:
        local = parse_backbone_id(configured)
        with _lock:
            if configured not in _checkpoint_hashes:
                _checkpoint_hashes[configured] = _sha256_of(local.checkpoint_path)
        if sha256 and local.without_path == built_as and _checkpoint_hashes[configured] == sha256:
            return configured
    return None


def backbone_infos() -> list:
    load_plugins()
    return registered_backbones()


def backbone_label(info) -> str:
    return f"{info.label} (demo backbone)" if info.is_demo else info.label


SOURCE_WORDS = {"local": "local file", "cache": "in the cache", "download": "downloads on first use"}


def real_backbone_label(entry: dict) -> str:
    """'ViT-B-16:openai (in the cache, sha256 5d4f5e2e2a1b..., 599 MB)'."""
    words = [SOURCE_WORDS.get(entry["source"], entry["source"])]
    if entry.get("sha256"):
        words.append(f"sha256 {entry['sha256'][:12]}...")
    size = entry.get("size_bytes")
    if size:
        words.append(f"{size / 1e6:,.0f} MB" if size >= 1e6 else f"{size / 1e3:,.0f} kB")
    return f"{entry['id']} ({', '.join(words)})"


def backbone_choices(real: list[dict] = ()) -> list[tuple[str, str]]:
    """The default backbone first, each labelled (a demo backbone says that it is one), then the `real` CLIP
    backbones the live workers can run (webapp.jobs.health.real_backbones)."""
    infos = backbone_infos()
    default = default_backbone()
    infos.sort(key=lambda info: info.id != default)
    registered = [(info.id, backbone_label(info)) for info in infos]
    ids = {i for i, _ in registered}
    return registered + [(e["id"], real_backbone_label(e)) for e in real if e["id"] not in ids]
