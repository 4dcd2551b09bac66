"""Each shape CLIP weights come in, built into the model open_clip gives for them with the pretrained
tag's settings applied (tuning/backbones/loading_spec.py):

- OpenAI's original `.pt` files are TorchScript archives: read by open_clip's own OpenAI loader, which
  builds the architecture the archive holds, with QuickGELU, as OpenAI trained it;
- open_clip state dicts (`.pt`, `.pth`, `.bin`, `.safetensors`): built from the named architecture;
- an open_clip repo in a local Hugging Face cache folder ('hf-hub:org/name'): its own config says the
  architecture and preprocessing; read from the cache only, never from the network.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from ..errors import BackboneError
from .loading_spec import TAG_PREPROCESS_KEYS


def open_clip_module():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import open_clip
    return open_clip


def weights_format(path: Path) -> str:
    """'torchscript', 'safetensors' or 'state_dict'. A TorchScript archive is a zip that holds its code;
    torch.save's zips hold only data."""
    if path.suffix == ".safetensors":
        return "safetensors"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any("/code/" in name for name in archive.namelist()):
                return "torchscript"
    return "state_dict"


def uses_quick_gelu(model) -> bool:
    from open_clip.transformer import QuickGELU
    return any(isinstance(m, QuickGELU) for m in model.modules())


def build_from_file(arch: str, settings: dict, path: Path):
    """(model, preprocess, tokenizer) for the weights in `path`, read as `arch` with a tag's `settings`."""
    open_clip = open_clip_module()
    if weights_format(path) == "torchscript":
        from open_clip.transform import PreprocessCfg, image_transform_v2
        model = open_clip.load_openai_model(str(path), precision="fp32", device="cpu")
        _check_archive_matches(arch, model, path)
        preprocess_cfg = {**open_clip.model.get_model_preprocess_cfg(model), "size": model.visual.image_size,
                          **{k: v for k, v in settings.items() if k in TAG_PREPROCESS_KEYS}}
        open_clip.model.set_model_preprocess_cfg(model, preprocess_cfg)
        preprocess = image_transform_v2(PreprocessCfg(**preprocess_cfg), is_train=False)
    else:
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=str(path), device="cpu", force_quick_gelu=bool(settings.get("quick_gelu")),
            force_context_length=settings.get("context_length"), image_mean=settings.get("mean"),
            image_std=settings.get("std"), image_interpolation=settings.get("interpolation"),
            image_resize_mode=settings.get("resize_mode"))
    return model, preprocess, open_clip.get_tokenizer(arch, context_length=model.context_length)


def _check_archive_matches(arch: str, model, path: Path) -> None:
    """An OpenAI archive carries its own architecture: refuse one that is not the architecture the id names
    (a ViT-B-32 file under a ViT-B-16 id would otherwise be recorded under the wrong name)."""
    cfg = open_clip_module().get_model_config(arch) or {}
    vision = cfg.get("vision_cfg", {})
    want = {"embedding size": cfg.get("embed_dim"), "image tower width": vision.get("width"),
            "patch size": vision.get("patch_size")}
    have = {"embedding size": int(model.text_projection.shape[1]),
            "image tower width": int(model.visual.conv1.weight.shape[0]) if hasattr(model.visual, "conv1") else None,
            "patch size": int(model.visual.conv1.weight.shape[-1]) if hasattr(model.visual, "conv1") else None}
    wrong = [k for k in want if want[k] is not None and have[k] is not None and want[k] != have[k]]
    if wrong:
        raise BackboneError(f"{path} holds another architecture than '{arch}' ({', '.join(wrong)} differ). "
                            "Name the architecture the file was made for.")


def hf_cache_dir() -> Path:
    """Where the Hugging Face cache is, read when loading (so HF_HUB_CACHE / HF_HOME set by a site's
    service file apply even if huggingface_hub was imported before)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


def cached_hf_folder(repo: str) -> tuple[Path, Path]:
    """(snapshot folder, weights file) of an open_clip repo in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache
    names = open_clip_module().constants
    HF_CONFIG_NAME, HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME = (names.HF_CONFIG_NAME, names.HF_SAFE_WEIGHTS_NAME,
                                                             names.HF_WEIGHTS_NAME)
    cache = hf_cache_dir()
    config = try_to_load_from_cache(repo, HF_CONFIG_NAME, cache_dir=cache)
    found = [try_to_load_from_cache(repo, name, cache_dir=cache) for name in (HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME)]
    weights = [w for w in found if isinstance(w, str)]
    if not isinstance(config, str) or not weights:
        raise BackboneError(
            f"The open_clip model '{repo}' is not in this machine's Hugging Face cache ({cache}). It needs "
            f"{HF_CONFIG_NAME} and {HF_SAFE_WEIGHTS_NAME} (or {HF_WEIGHTS_NAME}) under "
            f"{cache / ('models--' + repo.replace('/', '--'))}/snapshots/<revision>/. Copy that folder from a "
            "machine that downloaded it, or set HF_HUB_CACHE to the folder holding it.")
    return Path(config).parent, Path(weights[0])


def build_from_hf_cache(repo: str):
    """(model, preprocess, tokenizer, weights file) of an open_clip repo in the local Hugging Face cache,
    built from its folder the way open_clip builds 'hf-hub:<repo>' (its config's model and preprocessing)."""
    open_clip = open_clip_module()
    folder, weights = cached_hf_folder(repo)
    name = f"local-dir:{folder}"
    model, _, preprocess = open_clip.create_model_and_transforms(name, device="cpu")
    return model, preprocess, open_clip.get_tokenizer(name, context_length=model.context_length), weights
