"""Real CLIP weights load as they were trained: for each shape weights come in, a random-weight checkpoint
written in that shape loads through the product and through open_clip with the tag's settings applied, and
both give the same preprocessed image and the same image and text features.

The pretrained tags of the tiny architecture are test fixtures registered in open_clip's table of tags,
one with OpenAI's settings (QuickGELU) and one with other preprocessing; one test uses a real architecture
and tag (ViT-B-32:openai). The model hub is the one boundary replaced: `download_pretrained` returns the
file the test wrote."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2
from PIL import Image

import tuning
from tuning.backbones.open_clip_files import open_clip_module, uses_quick_gelu

open_clip = open_clip_module()

ARCH = "TinyRealWeightsClip"
# Text heads = width / 64, as OpenAI's loader infers them from an archive.
TINY_CFG = {"embed_dim": 32,
            "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 2}}
OPENAI_TAG = {"url": "", "hf_hub": "", "quick_gelu": True, "mean": (0.48145466, 0.4578275, 0.40821073),
              "std": (0.26862954, 0.26130258, 0.27577711), "interpolation": "bicubic", "resize_mode": "shortest"}
SQUASH_TAG = {"url": "", "hf_hub": "", "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5),
              "interpolation": "bilinear", "resize_mode": "squash"}
TEXTS = ["a photo of a scratch on steel.", "a dented plate", "pitting"]
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def tiny_arch(tmp_path_factory):
    config = tmp_path_factory.mktemp("arch") / f"{ARCH}.json"
    config.write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(config)
    return ARCH


@pytest.fixture
def tags(tiny_arch, monkeypatch):
    """The tiny architecture's pretrained tags, in open_clip's own table."""
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, tiny_arch, {"openai": OPENAI_TAG, "squash": SQUASH_TAG})
    return tiny_arch


def fixed_image() -> Image.Image:
    """Not square, so the resize mode matters; a gradient, so the interpolation does."""
    x = torch.linspace(0, 255, 53)[None, :].expand(41, 53)
    y = torch.linspace(0, 255, 41)[:, None].expand(41, 53)
    rgb = torch.stack([x, y, (x + y) / 2], dim=-1).to(torch.uint8).numpy()
    return Image.fromarray(rgb)


def random_weights(arch: str, seed: int = 7) -> dict:
    torch.manual_seed(seed)
    return open_clip.create_model(arch, device="cpu").state_dict()


def write_state_dict(state: dict, path: Path) -> Path:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


def write_torchscript(arch: str, path: Path, seed: int = 7) -> Path:
    """A TorchScript archive as OpenAI's are: a traced CLIP whose state dict is OpenAI's layout (the text
    mask is a constant of the trace, not a tensor of the state dict) plus their `input_resolution`."""
    torch.manual_seed(seed)
    model = open_clip.create_model(arch, device="cpu", force_quick_gelu=True).eval()
    mask = model._buffers.pop("attn_mask")
    model.attn_mask = mask
    model.register_buffer("input_resolution", torch.tensor(TINY_CFG["vision_cfg"]["image_size"]))
    example = (torch.zeros(1, 3, 32, 32), open_clip.get_tokenizer(arch)(["a"]))
    torch.jit.trace(model, example, check_trace=False).save(str(path))
    return path


def write_hf_cache(cache: Path, repo: str, weights: dict, *, quick_gelu: bool, preprocess: dict) -> Path:
    """An open_clip repo in Hugging Face's cache layout: blobs, a snapshot of links to them, refs/main."""
    from safetensors.torch import save
    folder = cache / f"models--{repo.replace('/', '--')}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    config = {"model_cfg": {**TINY_CFG, "quick_gelu": quick_gelu}, "preprocess_cfg": preprocess}
    files = {"open_clip_config.json": json.dumps(config).encode(),
             "open_clip_model.safetensors": save({k: v.contiguous() for k, v in weights.items()})}
    (folder / "snapshots" / revision).mkdir(parents=True)
    (folder / "blobs").mkdir()
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(revision)
    for name, data in files.items():
        blob = f"blob-{len(data)}-{name.replace('.', '-')}"
        (folder / "blobs" / blob).write_bytes(data)
        os.symlink(f"../../blobs/{blob}", folder / "snapshots" / revision / name)
    return cache


def assert_same_model(backbone, ref_model, ref_preprocess, ref_tokenizer):
    image = fixed_image()
    x, x_ref = backbone.preprocess(image)[None], ref_preprocess(image)[None]
    assert x.shape == x_ref.shape and (x - x_ref).abs().max() <= TOLERANCE
    ids, ids_ref = backbone.tokenizer(TEXTS), ref_tokenizer(TEXTS)
    assert torch.equal(ids, ids_ref)
    ref_model = ref_model.eval().requires_grad_(False)  # frozen as the product's: the same attention kernels
    with torch.no_grad():
        assert (backbone.model.encode_image(x) - ref_model.encode_image(x_ref)).abs().max() <= TOLERANCE
        assert (backbone.model.encode_text(ids) - ref_model.encode_text(ids_ref)).abs().max() <= TOLERANCE


def open_clip_with_tag(arch: str, tag: str, weights: Path, monkeypatch):
    """open_clip's own loading of a tag (the tag's preprocessing), QuickGELU forced where the tag says so,
    the hub replaced by the file the test wrote."""
    monkeypatch.setattr(open_clip.factory, "download_pretrained", lambda cfg, **kw: str(weights))
    quick_gelu = bool(open_clip.get_pretrained_cfg(arch, tag).get("quick_gelu"))
    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=tag, device="cpu",
                                                                 force_quick_gelu=quick_gelu)
    return model, preprocess, open_clip.get_tokenizer(arch)


@pytest.mark.parametrize("suffix", [".pt", ".bin", ".safetensors"])
@pytest.mark.parametrize("tag", ["openai", "squash"])
def test_a_state_dict_file_loads_with_its_tags_settings(tags, tag, suffix, tmp_path, monkeypatch):
    weights = write_state_dict(random_weights(tags), tmp_path / f"weights{suffix}")
    backbone = tuning.load_backbone(f"{tags}:{tag}@{weights}", device="cpu")
    assert_same_model(backbone, *open_clip_with_tag(tags, tag, weights, monkeypatch))
    assert uses_quick_gelu(backbone.model) == (tag == "openai")
    spec = backbone.spec
    assert spec.quick_gelu == (tag == "openai") and spec.pretrained_tag == tag
    assert spec.sha256 == backbone.checkpoint_sha256 == tuning.backbones.loader.file_sha256(weights)
    assert spec.size_bytes == weights.stat().st_size
    assert spec.preprocess["resize_mode"] == ("shortest" if tag == "openai" else "squash")


def test_a_downloaded_tag_is_built_with_its_settings(tags, tmp_path, monkeypatch):
    weights = write_state_dict(random_weights(tags), tmp_path / "open_clip_model.safetensors")
    monkeypatch.setattr(open_clip, "download_pretrained", lambda cfg, **kw: str(weights))
    backbone = tuning.load_backbone(f"{tags}:openai", device="cpu")
    assert_same_model(backbone, *open_clip_with_tag(tags, "openai", weights, monkeypatch))
    assert backbone.spec.quick_gelu


def test_an_openai_torchscript_archive_loads_through_open_clips_openai_loader(tags, tmp_path):
    archive = write_torchscript(tags, tmp_path / f"{tags}.pt")
    with pytest.raises(RuntimeError):  # what the loader read it with before: refused
        torch.load(archive, weights_only=True)
    backbone = tuning.load_backbone(f"{tags}:openai@{archive}", device="cpu")
    ref = open_clip.load_openai_model(str(archive), precision="fp32", device="cpu")
    settings = {k: OPENAI_TAG[k] for k in ("mean", "std", "interpolation", "resize_mode")}
    ref_preprocess = image_transform_v2(PreprocessCfg(size=ref.visual.image_size, **settings), is_train=False)
    assert_same_model(backbone, ref, ref_preprocess, open_clip.get_tokenizer(tags))
    assert uses_quick_gelu(backbone.model) and backbone.spec.weights_format == "torchscript"


def test_an_archive_of_another_architecture_is_refused_in_words(tags, tmp_path):
    archive = write_torchscript(tags, tmp_path / "b16.pt")
    with pytest.raises(tuning.BackboneError, match="holds another architecture than 'ViT-B-16'"):
        tuning.load_backbone(f"ViT-B-16:openai@{archive}", device="cpu")


@pytest.mark.parametrize("quick_gelu, preprocess", [
    (True, {"mean": OPENAI_TAG["mean"], "std": OPENAI_TAG["std"]}),
    (False, {"mean": SQUASH_TAG["mean"], "std": SQUASH_TAG["std"], "interpolation": "bilinear",
             "resize_mode": "squash"}),
])
def test_an_open_clip_repo_in_a_local_hugging_face_cache_loads_offline(tiny_arch, quick_gelu, preprocess,
                                                                       tmp_path, monkeypatch):
    import huggingface_hub.constants
    repo = f"factory-test/tiny-clip-{'quickgelu' if quick_gelu else 'squash'}"  # one per case: loads are cached
    cache = write_hf_cache(tmp_path / "hub", repo, random_weights(tiny_arch), quick_gelu=quick_gelu,
                           preprocess=preprocess)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    backbone = tuning.load_backbone(f"hf-hub:{repo}", device="cpu")
    model, _, ref_preprocess = open_clip.create_model_and_transforms(f"hf-hub:{repo}", device="cpu",
                                                                     cache_dir=str(cache))
    assert_same_model(backbone, model, ref_preprocess,
                      open_clip.get_tokenizer(f"hf-hub:{repo}", cache_dir=str(cache)))
    assert backbone.spec.quick_gelu == quick_gelu and backbone.spec.weights_format == "hf-cache"


def test_a_repo_missing_from_the_cache_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(tuning.BackboneError, match="not in this machine's Hugging Face cache"):
        tuning.load_backbone("hf-hub:factory-test/absent", device="cpu")


def test_an_old_style_local_id_keeps_its_architectures_own_settings(tags, tmp_path):
    """'<arch>@<path>' ids name no tag: built as before (the adapters tuned on them keep predicting)."""
    weights = write_state_dict(random_weights(tags), tmp_path / "weights.pt")
    backbone = tuning.load_backbone(f"{tags}@{weights}", device="cpu")
    model, _, preprocess = open_clip.create_model_and_transforms(tags, pretrained=str(weights), device="cpu")
    assert_same_model(backbone, model, preprocess, open_clip.get_tokenizer(tags))
    assert not backbone.spec.quick_gelu and backbone.spec.pretrained_tag is None


def test_the_real_vit_b_32_openai_settings(tmp_path, monkeypatch):
    """A real architecture and tag: ViT-B-32 with OpenAI's weights needs QuickGELU, which its plain name lacks."""
    weights = write_state_dict({k: v.half() for k, v in random_weights("ViT-B-32").items()},
                               tmp_path / "open_clip_model.safetensors")
    backbone = tuning.load_backbone(f"ViT-B-32:openai@{weights}", device="cpu")
    assert uses_quick_gelu(backbone.model) and backbone.spec.context_length == 77
    assert_same_model(backbone, *open_clip_with_tag("ViT-B-32", "openai", weights, monkeypatch))


def test_the_adapter_card_records_the_loading_spec_and_refuses_another_build(tags, tmp_path):
    """A card names the tag whose settings built its backbone; the same file built with GELU is refused."""
    from synthetic import synthetic_data
    from tiny_run import tiny_config
    weights = write_state_dict(random_weights(tags), tmp_path / "weights.safetensors")
    backbone = tuning.load_backbone(f"{tags}:openai@{weights}", device="cpu")
    result = tuning.tune(tiny_config(backbone=backbone.id, method="zeroshot"), synthetic_data(backbone))
    adapter = tuning.load_adapter(tuning.save_adapter(result.adapter, tmp_path / "adapter"))
    assert adapter.about.backbone_loading == backbone.spec.to_card()
    assert adapter.about.backbone_loading["quick_gelu"] and adapter.about.gelu_build_note is None
    tuning.predict(adapter, backbone, [fixed_image()])  # the same build: accepted
    gelu = tuning.load_backbone(f"{tags}@{weights}", device="cpu")  # the same file, no tag: GELU
    with pytest.raises(tuning.AdapterError, match="built with QuickGELU, but this one is built with GELU"):
        tuning.predict(adapter, gelu, [fixed_image()])


def test_an_adapter_tuned_on_a_gelu_build_of_openai_weights_says_so(tags, tmp_path, monkeypatch):
    """Cards from before the loading spec, for an OpenAI tag, were tuned on a GELU build."""
    from tuning.adapter import GeluBuildWarning
    weights = write_state_dict(random_weights(tags), tmp_path / "open_clip_model.safetensors")
    monkeypatch.setattr(open_clip, "download_pretrained", lambda cfg, **kw: str(weights))
    backbone = tuning.load_backbone(f"{tags}:openai", device="cpu")
    K, D = 2, backbone.embed_dim
    card = {"format_version": 1, "backbone_id": "ViT-B-32:openai", "backbone_sha256": backbone.checkpoint_sha256,
            "class_names": ["ok", "scratch"], "prompt_template": "{class}", "projection": {}, "method": "zeroshot",
            "config": {}, "logit_scale": 100.0}
    adapter = tuning.Adapter(card, torch.zeros(1), torch.zeros(1, 1),
                             torch.nn.functional.normalize(torch.randn(K, D), dim=-1))
    directory = tuning.save_adapter(adapter, tmp_path / "old")
    with pytest.warns(GeluBuildWarning, match="built with GELU.*Tune it again"):
        adapter = tuning.load_adapter(directory)
    with pytest.warns(GeluBuildWarning):
        tuning.predict(adapter, backbone, [fixed_image()])
    assert tuning.AdapterCard.from_dict({**card, "backbone_id": "ViT-B-32-quickgelu:openai"}).gelu_build_note is None
    assert tuning.AdapterCard.from_dict({**card, "backbone_id": "ViT-B-16:laion2b_s34b_b88k"}).gelu_build_note is None


def test_the_cards_list_of_quick_gelu_tags_is_open_clips():
    from tuning.card import QUICK_GELU_ON, QUICK_GELU_TAGS, tuned_on_a_gelu_build
    for arch, tag in open_clip.list_pretrained():
        needs = bool(open_clip.get_pretrained_cfg(arch, tag).get("quick_gelu")) and "quickgelu" not in arch
        assert tuned_on_a_gelu_build({"backbone_id": f"{arch}:{tag}"}) == needs, (arch, tag)
    assert QUICK_GELU_TAGS and QUICK_GELU_ON


def test_the_backbones_check_command_prints_the_build_and_zero_shot_accuracy(tags, tmp_path, capsys):
    from tuning.__main__ import main
    weights = write_state_dict(random_weights(tags), tmp_path / "weights.pt")
    for name in ("scratch", "dent"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(2):
            fixed_image().rotate(90 * i).save(tmp_path / "data" / name / f"{i}.png")
    assert main(["backbones", "--check", f"{tags}:openai@{weights}", "--data", str(tmp_path / "data"),
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "quick_gelu: True" in out and f"sha256: {tuning.backbones.loader.file_sha256(weights)}" in out
    assert "zero-shot accuracy" in out and "on 4 images of 2 classes (chance 0.5000)" in out


def test_a_worker_lists_the_real_backbones_it_can_run(tags, tmp_path, monkeypatch):
    from tuning.backbones.inventory import RECOMMENDED, runnable_backbones
    weights = write_state_dict(random_weights(tags), tmp_path / "b.safetensors")
    cache = write_hf_cache(tmp_path / "hub", "factory-test/listed", random_weights(tags), quick_gelu=True,
                           preprocess={})
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    local = f"{tags}:openai@{weights}"
    listed = {e["id"]: e for e in runnable_backbones([local, f"{tags}@{tmp_path / 'absent.pt'}"])}
    assert set(listed) == {local, "hf-hub:factory-test/listed"}
    assert listed[local] == {"id": local, "source": "local", "size_bytes": weights.stat().st_size,
                             "sha256": tuning.backbones.loader.file_sha256(weights)}
    online = {e["id"]: e for e in runnable_backbones([], online=True)}
    assert all(online[i]["source"] == "download" and online[i]["sha256"] is None for i in RECOMMENDED)
