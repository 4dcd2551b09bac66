"""The backbone id grammar, parsed in one place: a registered name ('demo'), '<arch>:<pretrained_tag>'
(an open_clip download) or '<arch>@/path/to/checkpoint.pt' (a local file, for air-gapped sites).
Light on purpose (no torch): the web app reads ids from adapter cards with it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackboneId:
    text: str
    arch: str | None = None  # the open_clip architecture ('<arch>:...' and '<arch>@...' forms)
    pretrained_tag: str | None = None  # '<arch>:<pretrained_tag>'
    checkpoint_path: str | None = None  # '<arch>@<path>'

    @property
    def is_name(self) -> bool:
        """A plain name, loaded only when registered (register_backbone)."""
        return self.arch is None

    @property
    def without_path(self) -> str:
        """The id with a local checkpoint's path left out ('ViT-B-32' for 'ViT-B-32@/models/b32.pt'):
        what may be shown or compared when the path is another site's."""
        return self.arch if self.checkpoint_path is not None else self.text


def parse_backbone_id(text: str) -> BackboneId:
    """'@' is read before ':', so a path may hold a colon ('ViT-B-32@C:/models/b32.pt')."""
    if "@" in text:
        arch, path = text.split("@", 1)
        return BackboneId(text, arch=arch, checkpoint_path=path)
    if ":" in text:
        arch, tag = text.split(":", 1)
        return BackboneId(text, arch=arch, pretrained_tag=tag)
    return BackboneId(text)
