"""The committed demo checkpoints, every version: each loads offline through open_clip with the
architecture of its row in versions.py, matches its card, and MiniLM is frozen."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tools.demo_backbone import corpus, zeroshot
from tuning.demo_backbone import model as dm
from tuning.demo_backbone.versions import V1, VERSIONS

V1_SHA256 = "6cdababc58c653404fc191b4260a0e147d7565da237359e6369898a3aad89f22"  # the first demo checkpoint, for good


@pytest.fixture(scope="module", params=VERSIONS, ids=lambda v: v.id)
def version(request):
    return request.param


@pytest.fixture(scope="module")
def demo(version):
    torch.set_num_threads(2)
    return dm.create_demo_model(version=version)


def test_checkpoint_matches_card_and_is_small(version):
    card = json.loads(version.card_path.read_text())
    assert card["sha256"] == dm.sha256_file(version.checkpoint_path)
    assert version.checkpoint_path.stat().st_size < 30e6
    recipe = card.get("recipe") or card["training"]  # v1's card kept its recipe under "training"
    assert {"seed", "minutes", "batch_size"} <= set(recipe)
    assert card["corpus"]["seed"] == recipe["seed"]


def test_the_card_records_the_architecture_of_the_versions_table(version):
    card = json.loads(version.card_path.read_text())
    assert card["open_clip_model_name"] == version.model_name
    assert card["model_config"]["vision_cfg"] == dict(version.vision_cfg)
    assert card["model_config"]["embed_dim"] == dm.EMBED_DIM


def test_v1_is_the_first_demo_checkpoint_byte_for_byte():
    """Adapters made before v2 name these weights by their sha256: they must never change."""
    assert dm.sha256_file(V1.checkpoint_path) == V1_SHA256
    assert json.loads(V1.card_path.read_text())["sha256"] == V1_SHA256


def test_checkpoint_holds_only_trained_tensors(version):
    from safetensors import safe_open

    with safe_open(str(version.checkpoint_path), "pt") as f:
        keys = list(f.keys())
    assert keys and all(dm.is_trained_key(k) for k in keys)
    assert any(k.startswith("visual.") for k in keys) and "logit_scale" in keys
    assert not any(k.startswith("text.transformer") for k in keys)


def test_loads_offline_with_sha_and_its_versions_image_size(version, demo):
    model, preprocess, tokenizer, sha = demo
    import open_clip

    assert isinstance(model, open_clip.CustomTextCLIP)
    assert sha == json.loads(version.card_path.read_text())["sha256"]
    assert not model.training
    size = version.vision_cfg["image_size"]
    assert tuple(model.visual.image_size) == (size, size)
    assert preprocess(Image.new("RGB", (250, 200))).shape == (3, size, size)


def test_text_tower_is_the_packaged_minilm_and_frozen(demo):
    from safetensors.torch import load_file

    model = demo[0]
    packaged = load_file(f"{dm.minilm_path()}/model.safetensors")
    ours = model.text.transformer.state_dict()
    compared = 0
    for k, v in packaged.items():
        key = k[len("bert."):] if k.startswith("bert.") else k
        if key in ours:
            assert torch.equal(ours[key], v), key
            compared += 1
    assert compared >= 90  # every encoder tensor of the 6-layer MiniLM
    fresh, _, _ = dm.build_model()
    assert not any(p.requires_grad for p in fresh.text.transformer.parameters())
    assert all(p.requires_grad for p in fresh.visual.parameters())


def test_zero_shot_on_generated_images_runs(demo):
    model, preprocess, tokenizer, _ = demo
    samples = [corpus.generate_sample(123, i) for i in range(6)]
    x = torch.stack([preprocess(Image.fromarray(s.image)) for s in samples])
    with torch.no_grad():
        img = torch.nn.functional.normalize(model.encode_image(x), dim=-1)
    txt = zeroshot.class_text_features(model, tokenizer, ["scratches", "crazing", "a clean surface"])
    probs = (model.logit_scale.exp() * img @ txt.t()).softmax(-1)
    assert probs.shape == (6, 3) and torch.isfinite(probs).all()
    assert np.allclose(probs.sum(-1).numpy(), 1, atol=1e-5)
