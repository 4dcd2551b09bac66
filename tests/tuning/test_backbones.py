import os
import subprocess
import sys

import pytest
import torch
from tiny_models import TINY_CFG, tiny_causal
from tiny_run import ROOT

import tuning


def test_demo_is_listed_and_default():
    ids = {b.id: b for b in tuning.list_backbones()}
    assert tuning.DEFAULT_BACKBONE == "demo" and ids["demo"].is_demo
    assert tuning.TuneConfig().backbone == "demo"


def test_registered_backbone_is_cached(causal_backbone):
    assert tuning.load_backbone("tiny-causal", device="cpu") is causal_backbone
    assert causal_backbone.embed_dim == 32 and causal_backbone.checkpoint_sha256


def test_unknown_backbone():
    with pytest.raises(tuning.BackboneError, match="Unknown backbone 'nope'"):
        tuning.load_backbone("nope", device="cpu")


def write_checkpoint(tmp_path, arch="TinyTestClip"):
    import json
    model = tiny_causal()[0]
    ckpt = tmp_path / "weights.pt"
    torch.save(model.state_dict(), ckpt)
    (tmp_path / f"{arch}.json").write_text(json.dumps(TINY_CFG))
    return model, ckpt


def test_local_checkpoint_loads(tmp_path):
    model, ckpt = write_checkpoint(tmp_path)
    bb = tuning.load_backbone(f"TinyTestClip@{ckpt}", device="cpu")
    assert bb.checkpoint_sha256 == tuning.backbones.loader.file_sha256(ckpt)
    ids = bb.tokenizer(["a photo of a cat."])
    with torch.no_grad():
        assert torch.allclose(bb.model.encode_text(ids), model.encode_text(ids), atol=1e-6)


def test_local_checkpoint_errors(tmp_path):
    with pytest.raises(tuning.BackboneError, match="Checkpoint file not found"):
        tuning.load_backbone(f"ViT-B-32@{tmp_path / 'missing.pt'}", device="cpu")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(tuning.BackboneError, match="Could not load checkpoint"):
        tuning.load_backbone(f"ViT-B-32@{bad}", device="cpu")
    with pytest.raises(tuning.BackboneError, match="Unknown open_clip architecture"):
        tuning.load_backbone(f"NoSuchArch@{bad}", device="cpu")


def test_offline_pretrained_tag_names_the_file_it_wanted():
    code = ("import tuning\ntry:\n    tuning.load_backbone('ViT-B-32:openai', device='cpu')\n"
            "except tuning.BackboneError as e:\n    print('ERR', e)\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert "ERR" in out.stdout, out.stderr
    assert "open_clip_model.safetensors" in out.stdout and "timm/vit_base_patch32_clip_224.openai" in out.stdout
    assert "ViT-B-32:openai@/path/to" in out.stdout  # tells how to install a local checkpoint instead


def test_unknown_tag():
    with pytest.raises(tuning.BackboneError, match="no pretrained tag 'bogus'"):
        tuning.load_backbone("ViT-B-32:bogus", device="cpu")
