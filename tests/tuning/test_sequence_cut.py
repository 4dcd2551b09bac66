"""Cutting prompts to the shortest sufficient length must not change the text features."""
import pytest
import torch

from tuning.backbones.prompts import PromptLearner

CLASSES = ["cat", "rolled-in_scale", "a dog with a very long descriptive name", "x"]


def _uncut_features(learner, P):
    """The same prompts with the context P, run at the tokenizer's full length (77)."""
    tok = learner.backbone.tokenizer
    ids = tok([f"{learner.ctx_init} {c.replace('_', ' ')}." for c in learner.class_names])
    with torch.no_grad():
        x = learner.tower.embed_tokens(ids).float()
        x[:, 1:1 + learner.m] = P
        return torch.nn.functional.normalize(learner.tower.encode(x, ids, learner.tower.pool_positions(ids)), dim=-1)


@pytest.mark.parametrize("which", ["causal_backbone", "hf_backbone"])
def test_cut_sequence_matches_full_forward(which, request):
    bb = request.getfixturevalue(which)
    learner = PromptLearner(bb, CLASSES, intrinsic_dim=8)
    assert learner.length < learner.full_length == 77
    # Zero-shot prompts against the model's own encode_text at full length (an independent path).
    assert torch.allclose(learner.zero_shot_features(), learner.reference_features(), atol=1e-5)
    # Learned contexts: cut, batched (several w at once) vs one full-length forward per w.
    W = torch.randn(3, 8) * 3
    batched = learner.text_features(W)
    for i in range(3):
        P = learner.contexts(W[i:i + 1])[0]
        assert torch.allclose(batched[i], _uncut_features(learner, P), atol=1e-5)


def test_hf_cut_uses_the_attention_mask(hf_backbone):
    learner = PromptLearner(hf_backbone, CLASSES, intrinsic_dim=8)
    real = (learner.ids != learner.tower.pad_id).sum(1)
    assert learner.length == int(real.max())
    assert int(real.min()) < learner.length  # shorter prompts still carry padding, masked out


def test_chunking_does_not_change_features(causal_backbone):
    W = torch.randn(4, 8)
    a = PromptLearner(causal_backbone, CLASSES, intrinsic_dim=8, chunk_rows=3).text_features(W)
    b = PromptLearner(causal_backbone, CLASSES, intrinsic_dim=8, chunk_rows=256).text_features(W)
    assert torch.allclose(a, b, atol=1e-5)
