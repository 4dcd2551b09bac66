"""The committed demo checkpoint: loads offline through open_clip, matches its card, MiniLM is frozen."""
import json

import numpy as np
import pytest
import torch

from tools.demo_backbone import corpus, zeroshot
from tuning.demo_backbone import model as dm


@pytest.fixture(scope="module")
def demo():
    torch.set_num_threads(2)
    return dm.create_demo_model()


def test_checkpoint_matches_card_and_is_small():
    card = json.loads(dm.CARD_PATH.read_text())
    assert card["sha256"] == dm.sha256_file(dm.CHECKPOINT_PATH)
    assert dm.CHECKPOINT_PATH.stat().st_size < 30e6
    assert {"seed", "minutes", "batch_size"} <= set(card["training"])
    assert card["corpus"]["seed"] == card["training"]["seed"]


def test_checkpoint_holds_only_trained_tensors():
    from safetensors import safe_open

    with safe_open(str(dm.CHECKPOINT_PATH), "pt") as f:
        keys = list(f.keys())
    assert keys and all(dm.is_trained_key(k) for k in keys)
    assert any(k.startswith("visual.") for k in keys) and "logit_scale" in keys
    assert not any(k.startswith("text.transformer") for k in keys)


def test_loads_offline_with_sha(demo):
    model, preprocess, tokenizer, sha = demo
    import open_clip

    assert isinstance(model, open_clip.CustomTextCLIP)
    assert sha == json.loads(dm.CARD_PATH.read_text())["sha256"]
    assert not model.training


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


def test_cached_text_embeddings_equal_the_text_forward(demo):
    from tools.demo_backbone.train import pooled_text

    model, _, tokenizer, _ = demo
    texts = ["crazing on hot-rolled steel", "a photo of nominal fabric", "two red circles"]
    with torch.no_grad():
        direct = model.encode_text(tokenizer(texts))
        cached = model.text.proj(pooled_text(model, tokenizer, texts))
    assert torch.allclose(direct, cached, atol=1e-5)


def test_zero_shot_on_generated_images_runs(demo):
    from PIL import Image

    model, preprocess, tokenizer, _ = demo
    samples = [corpus.generate_sample(123, i) for i in range(6)]
    x = torch.stack([preprocess(Image.fromarray(s.image)) for s in samples])
    with torch.no_grad():
        img = torch.nn.functional.normalize(model.encode_image(x), dim=-1)
    txt = zeroshot.class_text_features(model, tokenizer, ["scratches", "crazing", "a clean surface"])
    probs = (model.logit_scale.exp() * img @ txt.t()).softmax(-1)
    assert probs.shape == (6, 3) and torch.isfinite(probs).all()
    assert np.allclose(probs.sum(-1).numpy(), 1, atol=1e-5)
