"""Adapter files: `adapter.safetensors` (w, P, class text embeddings) + `adapter.json` (the card).

Loading needs only `tuning` and the backbone and never unpickles anything. Prediction uses the
stored class embeddings directly, so a deployed adapter costs one image forward per image.

Some methods add tensors of their own (`Adapter.extras`, in the same safetensors file) and the card
says how they enter the class logits (`class_logits`):
- `card["head"] == "linear"`: a linear probe, logits = z @ head_weight.T + head_bias, replacing the
  text logits (the class embeddings stay the zero-shot ones, for reference).
- `card["cache"] == {"alpha", "beta"}`: a Tip-Adapter cache over the training images' features,
  logits += alpha * exp(-beta (1 - z @ cache_keys.T)) @ cache_values (with `"keys": "training+validation"`:
  over the training then the validation images, a cache method 'auto' refitted).
- `card["adapt"] == "sparse"` : `vision_delta/<parameter>/indices|values` change the backbone
  (tuning/sparse/vision_delta.py). Image-tower tensors (`visual.*`): the images are encoded through the changed
  tower. Text-side ones (text-tower tensors, `text.class_context`; text_groups.py) and `head_delta` (K, D),
  the linear head's change, are already inside class_embeddings; `apply_adapter` recomputes them.
An adapter with extras is written as format version 2, so a reader from before them refuses it
instead of predicting without them; one without extras stays version 1; one whose delta changes the
text side (text_groups.py) is version 3, which readers from before the text groups refuse.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .backbones.catalogue import backbone_for_card
from .card import (  # noqa: F401
    EXTRAS_FORMAT_VERSION,
    FORMAT_VERSION,
    READABLE_VERSIONS,
    REQUIRED_CARD_KEYS,
    TEXT_DELTA_FORMAT_VERSION,
    AdapterCard,
    card_text,
    gelu_build_note,
)
from .checkpoint import atomic_write_bytes, atomic_write_text
from .errors import AdapterError, BackboneError
from .sparse.vision_delta import PREFIX, encode_pil_with_delta, from_tensors

TENSORS = ("w", "P", "class_embeddings")
EXTRA_TENSORS = {"head": ("head_weight", "head_bias"), "cache": ("cache_keys", "cache_values")}


@dataclass
class Adapter:
    card: dict  # the card's keys (tuning/card.py); `about` reads them typed
    w: torch.Tensor  # (d,)
    P: torch.Tensor  # (m, width) learned context embeddings
    class_embeddings: torch.Tensor  # (K, D) normalised text features, ready for inference
    extras: dict[str, torch.Tensor] = field(default_factory=dict)  # see the module docstring

    @property
    def class_names(self) -> list[str]:
        return list(self.card["class_names"])

    @property
    def about(self) -> AdapterCard:
        """The card, typed (AdapterError when it is not one this version reads)."""
        return AdapterCard.from_dict(self.card)

    @property
    def vision_delta(self) -> dict | None:
        """adapt='sparse': {parameter name: (flat indices, values)} added to the image tower; else None."""
        return {n: d for n, d in from_tensors(self.extras).items() if n.startswith("visual.")} or None

    @property
    def text_delta(self) -> dict | None:
        """adapt='sparse' with text groups: the change of the text side (text-tower tensors and the
        class-specific contexts, text_groups.py), already inside class_embeddings; else None."""
        return {n: d for n, d in from_tensors(self.extras).items() if not n.startswith("visual.")} or None

    @property
    def head_delta(self) -> torch.Tensor | None:
        return self.extras.get("head_delta")


@dataclass
class Prediction:
    label: str
    index: int
    probabilities: list[float]


class GeluBuildWarning(UserWarning):
    """An adapter tuned on a GELU build of weights trained with QuickGELU (tuning/card.py, gelu_build_note):
    said when it is loaded and when it meets the backbone built as trained."""


def format_version(extras: dict) -> int:
    """A reader from before a kind of tensor must refuse the file, not predict without it (or crash on
    it): a text-side delta is version 3, other extras 2, none 1."""
    if any(n.startswith(PREFIX) and not n.startswith(PREFIX + "visual.") for n in extras):
        return TEXT_DELTA_FORMAT_VERSION
    return EXTRAS_FORMAT_VERSION if extras else FORMAT_VERSION


def save_adapter(adapter: Adapter, directory) -> Path:
    from safetensors.torch import save
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: getattr(adapter, name) for name in TENSORS} | adapter.extras
    tensors = {name: t.detach().float().cpu().contiguous() for name, t in tensors.items()}
    card = dict(adapter.card)
    if adapter.extras:  # a reader from before extras must refuse the file, not predict without them
        card["format_version"] = format_version(adapter.extras)
    version = card.get("format_version", FORMAT_VERSION)
    atomic_write_bytes(directory / "adapter.safetensors", save(tensors, metadata={"format_version": str(version)}))
    atomic_write_text(directory / "adapter.json", card_text(card))
    return directory


def load_adapter(directory) -> Adapter:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    directory = Path(directory)
    card_path, tensor_path = directory / "adapter.json", directory / "adapter.safetensors"
    for p in (card_path, tensor_path):
        if not p.is_file():
            raise AdapterError(f"This is not a complete adapter: {p.name} is missing from {directory}.")
    where = f"The adapter card {card_path}"
    try:
        text = card_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AdapterError(f"{where} is damaged (not valid JSON: {exc}).") from exc
    card = AdapterCard.from_json(text, where=where).to_dict()
    check_safetensors_header(tensor_path)
    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise AdapterError(f"The adapter tensors in {tensor_path} are damaged ({exc}).") from exc
    needed = list(TENSORS) + [t for key, names in EXTRA_TENSORS.items() if card.get(key) for t in names]
    absent = [t for t in needed if t not in tensors]
    if absent:
        raise AdapterError(f"The adapter tensors lack {', '.join(absent)}; the file is damaged or incomplete.")
    emb = tensors["class_embeddings"]
    if emb.dim() != 2 or emb.shape[0] != len(card["class_names"]):
        raise AdapterError(f"The adapter holds {tuple(emb.shape)} class embeddings for "
                           f"{len(card['class_names'])} class names; the file is damaged.")
    extras = {name: t for name, t in tensors.items() if name not in TENSORS}
    try:
        from_tensors(extras)
    except ValueError as exc:
        raise AdapterError(f"The adapter tensors in {tensor_path} are damaged: {exc}.") from exc
    check_tensors(card, tensors)
    note = gelu_build_note(card)
    if note:
        import warnings
        warnings.warn(note, GeluBuildWarning, stacklevel=2)
    return Adapter(card, tensors["w"], tensors["P"], emb, extras)


# An adapter's header lists a few tensors (a sparse one: two per changed parameter, a few hundred at
# most); these bounds refuse a crafted header before a parser spends time and memory on it.
MAX_HEADER_BYTES = 1 << 20
MAX_TENSORS = 10_000


def check_safetensors_header(path) -> None:
    """Read only the header of a safetensors file and refuse it, in words, when its declared length or
    its number of entries is beyond what an adapter needs (AdapterError); before anything parses the file."""
    import json
    with open(path, "rb") as handle:
        declared = int.from_bytes(handle.read(8), "little")
        if declared > MAX_HEADER_BYTES:
            raise AdapterError(f"adapter.safetensors declares a table of contents of {declared:,} bytes; an adapter "
                               f"needs at most {MAX_HEADER_BYTES:,}. The file is damaged or was not made by tuning.")
        raw = handle.read(declared)
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise AdapterError("adapter.safetensors is damaged (its table of contents cannot be read).") from None
    if not isinstance(header, dict):
        raise AdapterError("adapter.safetensors is damaged (its table of contents cannot be read).")
    if len(header) > MAX_TENSORS + 1:  # + its __metadata__ entry
        raise AdapterError(f"adapter.safetensors lists {len(header):,} tensors; an adapter has at most "
                           f"{MAX_TENSORS:,}. The file is damaged or was not made by tuning.")


def check_tensors(card: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Every tensor of an adapter file against its card, so that a damaged or crafted file is refused
    when it is loaded rather than predicting nonsense (or NaN) later: only the names the card calls
    for, shapes that agree with the card and with each other, finite values, index ranges that fit.
    AdapterError names the first problem. The backbone's own sizes are checked by check_backbone_fit."""
    from .sparse.text_groups import CLASS_CONTEXT
    K = len(card["class_names"])
    sparse = card.get("adapt") == "sparse"
    expected = set(TENSORS) | {t for key, names in EXTRA_TENSORS.items() if card.get(key) for t in names}
    if sparse:
        expected.add("head_delta")
    for name in tensors:
        if name not in expected and not (sparse and name.startswith(PREFIX)):
            raise AdapterError(f"The adapter file holds a tensor '{name[:80]}' that its card does not call for; "
                               "the file is damaged or does not belong to this card.")
    scale = card.get("logit_scale")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise AdapterError("The adapter card's logit_scale is not a finite number; the card is damaged.")

    def shape(name: str, want: tuple) -> None:
        got = tuple(tensors[name].shape)
        if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
            wanted = " x ".join("any" if w is None else str(w) for w in want)
            raise AdapterError(f"The adapter tensor {name} has shape {' x '.join(map(str, got)) or 'scalar'}; "
                               f"its card calls for {wanted}. The file is damaged or does not belong to this card.")

    D = tensors["class_embeddings"].shape[-1]
    shape("class_embeddings", (K, D))
    shape("P", (None, None))
    shape("w", (None,))
    projection = (card.get("projection") or {}).get("shape") if isinstance(card.get("projection"), dict) else None
    if isinstance(projection, list) and len(projection) == 2 and all(isinstance(n, int) for n in projection):
        if tensors["P"].numel() != projection[0]:  # w may be longer: a sparse adapter's also moves other parts
            raise AdapterError(f"The adapter tensor P {tuple(tensors['P'].shape)} does not fit the card's projection "
                               f"({projection[0]} entries); the file is damaged or does not belong to this card.")
    for name, want in (("head_weight", (K, D)), ("head_bias", (K,)), ("head_delta", (K, D)),
                       ("cache_keys", (None, D))):
        if name in tensors:
            shape(name, want)
    if "cache_values" in tensors:
        shape("cache_values", (tensors["cache_keys"].shape[0], K))
    for name, t in tensors.items():
        if t.dtype == torch.bool or t.is_complex() or not bool(torch.isfinite(t).all()):
            raise AdapterError(f"The adapter tensor {name[:80]} holds values that are not finite numbers (NaN or "
                               "infinite); the file is damaged.")
    m, width = tensors["P"].shape
    for param, (idx, _) in from_tensors(tensors).items():
        raw = tensors[f"{PREFIX}{param}/indices"]  # save_adapter writes every tensor as float32, positions too
        if raw.dim() != 1 or not torch.equal(raw, raw.trunc()):
            raise AdapterError(f"The change of {param[:80]} stores its positions as {tuple(raw.shape)} values that "
                               "are not a list of whole numbers; the file is damaged.")
        limit = K * m * width if param == CLASS_CONTEXT else None
        if idx.numel() and (int(idx.min()) < 0 or (limit is not None and int(idx.max()) >= limit)):
            raise AdapterError(f"The change of {param[:80]} names positions outside the tensor it changes; the "
                               "file is damaged.")


def check_backbone_fit(adapter: Adapter, backbone) -> None:
    """The adapter's change of the backbone against the backbone itself: each changed tensor exists
    there and every position is inside it. AdapterError in words otherwise."""
    from .sparse.text_groups import CLASS_CONTEXT
    params = dict(backbone.model.named_parameters())
    for name, (idx, _) in from_tensors(adapter.extras).items():
        if name == CLASS_CONTEXT:
            continue  # the prompt's own tensor, checked against the card by check_tensors
        if name not in params:
            raise AdapterError(f"The adapter changes a tensor '{name[:80]}' that backbone '{backbone.id}' does not "
                               "have; it was made for another backbone, or the file is damaged.")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= params[name].numel()):
            raise AdapterError(f"The adapter changes positions outside the tensor {name[:80]} of backbone "
                               f"'{backbone.id}'; the file is damaged.")


def class_logits(adapter: Adapter, z: torch.Tensor) -> torch.Tensor:
    """Logits (N, K) of normalised image features z (N, D) under the adapter, before the softmax."""
    z = z.float()
    x = adapter.extras
    if adapter.card.get("head") == "linear":
        logits = z @ x["head_weight"].float().T + x["head_bias"].float()
    else:
        logits = float(adapter.card["logit_scale"]) * z @ adapter.class_embeddings.float().T
    cache = adapter.card.get("cache")
    if cache:
        logits = logits + cache_logits(z, x["cache_keys"].float(), x["cache_values"].float(),
                                       float(cache["alpha"]), float(cache["beta"]))
    return logits


CACHE_AFFINITIES = 1 << 22  # image x training-image affinities held at once: with many classes both grow with K


def cache_logits(z: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """Tip-Adapter: each training image votes for its class with weight exp(-beta (1 - cosine)); in slices
    of images when all affinities at once would pass CACHE_AFFINITIES."""
    rows = max(1, CACHE_AFFINITIES // max(1, len(keys)))
    return torch.cat([alpha * torch.exp(-beta * (1.0 - z[s:s + rows] @ keys.T)) @ values
                      for s in range(0, max(1, len(z)), rows)])


def check_compatible(adapter: Adapter, backbone) -> None:
    """Refuse a backbone whose weights differ from those the adapter was tuned on. The checkpoint
    hash decides when both sides have one (the same weights may sit at another path); otherwise the ids."""
    want_id, want_sha = adapter.card.get("backbone_id"), adapter.card.get("backbone_sha256")
    have_sha = backbone.checkpoint_sha256
    if want_sha and have_sha:
        ok = want_sha == have_sha
    else:
        ok = want_id == backbone.id
    if not ok:
        raise AdapterError(_wrong_backbone_message(want_id, want_sha, backbone))
    _check_same_build(adapter, backbone)
    if adapter.class_embeddings.shape[1] != backbone.embed_dim:
        raise AdapterError(f"The adapter's embeddings have size {adapter.class_embeddings.shape[1]} but the "
                           f"backbone's have size {backbone.embed_dim}.")


def _check_same_build(adapter: Adapter, backbone) -> None:
    """The same weights can be built into different models (GELU or QuickGELU, other preprocessing): refuse
    a backbone built otherwise than the one the card records; warn for cards from before the record."""
    import warnings

    from .backbones.loading_spec import differences
    spec = getattr(backbone, "spec", None)
    note = gelu_build_note(adapter.card)
    if note and spec is not None and spec.quick_gelu:
        warnings.warn(note, GeluBuildWarning, stacklevel=3)
    recorded = adapter.card.get("backbone_loading")
    if recorded is None or spec is None:
        return
    wrong = differences(recorded, spec.to_card())
    if wrong:
        raise AdapterError(f"This adapter does not fit the installed backbone '{backbone.id}': {'; '.join(wrong)}. "
                           "Install the weights and backbone id it was tuned on, or tune it again on this one.")


def _wrong_backbone_message(want_id, want_sha, backbone) -> str:
    try:  # "demo" has named more than one version: the weights say which one the adapter needs
        needed = backbone_for_card(want_id, want_sha)
    except BackboneError as exc:
        return str(exc)
    which = "it was tuned for" if needed == want_id else f"'{needed}', which has the weights it was tuned on"
    return (f"This adapter was tuned for backbone '{want_id}' (weights sha256 {str(want_sha)[:12]}...), but the "
            f"loaded backbone is '{backbone.id}' (sha256 {str(backbone.checkpoint_sha256)[:12]}...). Load the "
            f"backbone {which}; an adapter does not transfer between backbones.")


def predict(adapter: Adapter, backbone, images) -> list[Prediction]:
    """images: paths or PIL images. Returns one Prediction per image, probabilities in class order."""
    from PIL import Image

    from .data import _load_image, encode_pil
    check_compatible(adapter, backbone)
    check_backbone_fit(adapter, backbone)
    pil = [im if isinstance(im, Image.Image) else _load_image(Path(im)) for im in images]
    delta = adapter.vision_delta
    z = encode_pil(backbone, pil) if delta is None else encode_pil_with_delta(backbone, delta, pil)
    probs = torch.softmax(class_logits(adapter, z), dim=-1)
    names = adapter.class_names
    return [Prediction(names[int(p.argmax())], int(p.argmax()), [float(x) for x in p]) for p in probs]


def apply_adapter(adapter: Adapter, backbone) -> torch.Tensor:
    """Recompute the class embeddings from the stored context P with this backbone: (K, D).
    Equal to adapter.class_embeddings on the backbone it was tuned for (a deployment self-check)."""
    from .backbones.prompts import PromptLearner
    check_compatible(adapter, backbone)
    learner = PromptLearner(backbone, adapter.class_names, ctx_init=adapter.card["ctx_init"], intrinsic_dim=1)
    P = adapter.P.to(backbone.device, torch.float32)[None]
    if adapter.text_delta:
        from .sparse.text_groups import text_features_with_change
        T = text_features_with_change(learner, P, adapter.text_delta)[0].cpu()
    else:
        T = learner.features_from_contexts(P)[0].cpu()
    return T if adapter.head_delta is None else T + adapter.head_delta.float()
