"""Which demo version an adapter was made with, told by its weights' sha256.

Adapters record the backbone id they were tuned on and that backbone's checkpoint sha256. Before
the versions existed every demo adapter said "demo", whatever weights "demo" then had, so the id
alone cannot say which version an adapter needs: the sha256 decides. Each version's sha256 is read
from its card.json (no torch, no hashing of the checkpoint) and kept until the card changes.
"""
from __future__ import annotations

import json
import threading

from ..errors import BackboneError
from .versions import BEFORE_VERSIONS, BY_ID, DEFAULT, VERSIONS, DemoVersion

_lock = threading.Lock()
_recorded: dict[str, tuple[tuple[int, int], str | None]] = {}  # card path -> ((mtime_ns, size), sha256)


def recorded_sha256(version: DemoVersion) -> str | None:
    """The checkpoint sha256 the version's card records; None when this installation lacks the version."""
    card = version.card_path
    try:
        stat = card.stat()
    except FileNotFoundError:
        return None
    if not version.checkpoint_path.is_file():
        return None
    key = (stat.st_mtime_ns, stat.st_size)
    with _lock:
        hit = _recorded.get(str(card))
        if hit is None or hit[0] != key:
            hit = _recorded[str(card)] = (key, json.loads(card.read_text(encoding="utf-8")).get("sha256"))
        return hit[1]


def installed_versions() -> list[tuple[DemoVersion, str]]:
    """(version, sha256) of every demo version this installation has, newest first."""
    return [(v, sha) for v in VERSIONS if (sha := recorded_sha256(v))]


def version_with_sha256(sha256: str | None) -> DemoVersion | None:
    return next((v for v, sha in installed_versions() if sha256 and sha == sha256), None)


def version_for_card(backbone_id: str, sha256: str | None) -> DemoVersion | None:
    """The demo version an adapter card (backbone_id, backbone_sha256) needs; None when the card does
    not name a demo backbone or records no sha256 (then its id is all there is to go by). Raises
    BackboneError, naming the weights it needs and those installed, when no installed version has them."""
    if backbone_id not in BY_ID or not sha256:
        return None
    version = version_with_sha256(sha256)
    if version is None:
        raise BackboneError(missing_weights_message(sha256))
    return version


def sha256_before_versions(backbone_id: str) -> str | None:
    """The weights a record without a sha256 meant by `backbone_id` (None: its id is all there is)."""
    return recorded_sha256(BEFORE_VERSIONS) if backbone_id == DEFAULT.id else None


def describe_installed() -> str:
    """'demo (v2, sha256 1a2b3c4d5e6f...) and demo-v1 (v1, sha256 6cdababc58c6...)'."""
    have = [f"{v.id} ({v.name}, sha256 {sha[:12]}...)" for v, sha in installed_versions()]
    if not have:
        return "no demo backbone weights at all"
    return ", ".join(have[:-1]) + (" and " if len(have) > 1 else "") + have[-1]


def missing_weights_message(sha256: str) -> str:
    return (f"This adapter was made with demo backbone weights sha256 {sha256[:12]}..., which this installation "
            f"does not have; it has {describe_installed()}. Install the version of the tuning package that "
            "ships those weights, or tune the adapter again on one of these.")
