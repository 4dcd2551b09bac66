"""The backbone id grammar, parsed in one place. Light on purpose (no torch): the web app reads ids from
adapter cards with it.

    demo                              a registered name (register_backbone)
    ViT-B-16:openai                   an open_clip architecture and pretrained tag (downloaded or cached)
    ViT-B-16:openai@/opt/clip/b16.pt  a local file holding that tag's weights: built with the tag's settings
    ViT-B-16@/opt/clip/b16.pt         a local file with no tag: the architecture's own settings (older ids)
    hf-hub:org/name                   an open_clip model in the local Hugging Face cache (read offline)
"""
from __future__ import annotations

from dataclasses import dataclass

HF_HUB_PREFIX = "hf-hub:"


@dataclass(frozen=True)
class BackboneId:
    text: str
    arch: str | None = None  # the open_clip architecture ('<arch>:...' and '<arch>@...' forms)
    pretrained_tag: str | None = None  # whose settings apply ('<arch>:<tag>', '<arch>:<tag>@<path>')
    checkpoint_path: str | None = None  # '<arch>@<path>', '<arch>:<tag>@<path>'
    hf_repo: str | None = None  # 'hf-hub:<org/name>'

    @property
    def is_name(self) -> bool:
        """A plain name, loaded only when registered (register_backbone)."""
        return self.arch is None and self.hf_repo is None

    @property
    def without_path(self) -> str:
        """The id with a local checkpoint's path left out ('ViT-B-16:openai' for
        'ViT-B-16:openai@/models/b16.pt'): what may be shown or compared when the path is another site's."""
        return self.text.split("@", 1)[0] if self.checkpoint_path is not None else self.text


def parse_backbone_id(text: str) -> BackboneId:
    """'@' is read before ':', so a path may hold a colon ('ViT-B-32@C:/models/b32.pt')."""
    if text.startswith(HF_HUB_PREFIX):
        return BackboneId(text, hf_repo=text[len(HF_HUB_PREFIX):])
    name, path = text.split("@", 1) if "@" in text else (text, None)
    if ":" in name:
        arch, tag = name.split(":", 1)
        return BackboneId(text, arch=arch, pretrained_tag=tag, checkpoint_path=path)
    if path is not None:
        return BackboneId(text, arch=name, checkpoint_path=path)
    return BackboneId(text)
