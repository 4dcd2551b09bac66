"""The demo backbone's versions: the one place that says what each version is.

A new version of the image tower is a new architecture and new weights, so an adapter tuned on one
never fits another. Every version an installation ships stays loadable under its own backbone id,
so adapters made with an older one keep working; "demo" always names the newest.
Light on purpose (no torch): the catalogue lists these without loading anything.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
EMBED_DIM = 256  # the MiniLM text tower's projection; the same for every version

NOT_REAL_CLIP = (
    "Fine for trying the product, far weaker than real CLIP. To use real CLIP weights, pick the backbone id "
    "'<arch>:<pretrained tag>' (e.g. 'ViT-B-32:openai', downloaded when the machine is online) or "
    "'<arch>@/path/to/checkpoint' (a CLIP checkpoint copied onto an offline machine)."
)


def model_name_for(vision_cfg: Mapping[str, float | int]) -> str:
    """The open_clip config name, spelled from the architecture so that the two never disagree."""
    c = vision_cfg
    return f"demo-MiniLM-L6-ViT-{c['layers']}L{c['width']}-p{c['patch_size']}-{c['image_size']}px"


@dataclass(frozen=True)
class DemoVersion:
    id: str  # the backbone id it is registered under
    name: str  # "v2": how messages and pages tell the versions apart
    vision_cfg: Mapping[str, float | int]
    weights_dir: Path  # holds demo_vit.safetensors and its card.json
    label: str
    description: str

    @property
    def model_name(self) -> str:
        return model_name_for(self.vision_cfg)

    @property
    def checkpoint_path(self) -> Path:
        return self.weights_dir / "demo_vit.safetensors"

    @property
    def card_path(self) -> Path:
        return self.weights_dir / "card.json"


_V2_VISION = MappingProxyType(
    {"image_size": 128, "patch_size": 16, "width": 256, "head_width": 64, "layers": 6, "mlp_ratio": 4.0})
V2 = DemoVersion(
    id="demo",
    name="v2",
    vision_cfg=_V2_VISION,
    weights_dir=WEIGHTS_DIR,
    label="Demo backbone (small; NOT real CLIP weights)",
    description=(
        "A small demo CLIP built by this project so everything runs offline on a CPU: the pretrained MiniLM-L6 "
        f"text tower with a {_V2_VISION['image_size']}-pixel ViT image tower trained on generated inspection "
        "images. " + NOT_REAL_CLIP),
)

# Kept small on purpose: it trained in about half an hour on two CPU cores.
_V1_VISION = MappingProxyType(
    {"image_size": 64, "patch_size": 8, "width": 192, "head_width": 64, "layers": 4, "mlp_ratio": 4.0})
V1 = DemoVersion(
    id="demo-v1",
    name="v1",
    vision_cfg=_V1_VISION,
    weights_dir=WEIGHTS_DIR / "v1",
    label="Demo backbone v1 (older; kept so adapters made with it still run)",
    description=(
        f"The first demo backbone ({_V1_VISION['image_size']}-pixel ViT image tower), kept so adapters tuned on "
        "it before the demo backbone was renewed still load and predict exactly as before. For new jobs pick "
        "'demo'. " + NOT_REAL_CLIP),
)

DEFAULT = V2
VERSIONS: tuple[DemoVersion, ...] = (V2, V1)  # newest first
# Before the versions existed, "demo" named v1's weights: a record of that time which says "demo"
# and no sha256 (a tuner checkpoint) was made on these.
BEFORE_VERSIONS = V1
BY_ID: Mapping[str, DemoVersion] = MappingProxyType({v.id: v for v in VERSIONS})


def demo_version(version: DemoVersion | str | None = None) -> DemoVersion:
    """A DemoVersion from itself, its backbone id or None (the default)."""
    if version is None:
        return DEFAULT
    if isinstance(version, DemoVersion):
        return version
    if version not in BY_ID:
        raise KeyError(f"unknown demo backbone version '{version}' (known: {', '.join(BY_ID)})")
    return BY_ID[version]
