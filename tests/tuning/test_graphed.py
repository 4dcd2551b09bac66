"""The static-shape text forward (tuning/backbones/graphed.py): padded chunks give the plain path's numbers (to
float32 rounding: a CPU's matrix kernels may sum in another order for another row count, as this AMD EPYC's do by
a few units in the last place), it is kept away from gradients and swapped tensors, the setting is checked, and on
CUDA the recorded graphs replay what the eager forward computes (those tests are skipped without a GPU)."""
import pytest
import torch

import tuning
from tuning.backbones.graphed import StaticShapeForward, bucket_rows, host_reads
from tuning.backbones.prompts import PromptLearner
from tuning.objective import Objective

CLASSES = ["cat", "rolled-in_scale", "a dog with a very long descriptive name", "x", "y"]
ROUNDING = dict(rtol=1e-5, atol=1e-6)  # a few float32 units in the last place; a wrong row would be off by 0.1
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


class CountingEncode:
    """The tower's encode, recording the batch size of each call."""

    def __init__(self, encode):
        self.encode = encode
        self.rows: list[int] = []

    def __call__(self, x, ids, pool_pos):
        self.rows.append(x.shape[0])
        return self.encode(x, ids, pool_pos)


def padded_learner(backbone, names, **kw) -> tuple[PromptLearner, CountingEncode]:
    """A learner whose plain queries take the padded static-shape path, run eagerly (no capture): the CPU
    stand-in for the graphed path."""
    learner = PromptLearner(backbone, names, **kw)
    counting = CountingEncode(learner.tower.encode)
    learner.static_forward = StaticShapeForward(counting, learner.device, learner.chunk_rows, capture=False)
    return learner, counting


def test_chunks_are_padded_to_a_few_sizes():
    assert [bucket_rows(n, 256) for n in (1, 8, 9, 20, 129, 256)] == [8, 8, 16, 32, 256, 256]
    assert bucket_rows(10, 12) == 12  # never past the chunk size
    assert bucket_rows(300, 256) == 300  # a chunk larger than the learner's is never cut
    with pytest.raises(ValueError, match="at least one prompt"):
        bucket_rows(0, 256)


@pytest.mark.parametrize("which", ["causal_backbone", "hf_backbone"])
def test_padded_chunks_give_the_plain_features(which, request):
    bb = request.getfixturevalue(which)
    W = torch.randn(7, 8, generator=torch.Generator().manual_seed(0))
    plain = PromptLearner(bb, CLASSES, intrinsic_dim=8, chunk_rows=16)
    padded, counting = padded_learner(bb, CLASSES, intrinsic_dim=8, chunk_rows=16)
    torch.testing.assert_close(padded.text_features(W), plain.text_features(W), **ROUNDING)
    assert counting.rows == [16, 16, 8]  # 35 prompts: two full chunks and 3 rows padded to 8


def test_padded_chunks_give_the_plain_losses(causal_backbone, synth):
    W = torch.randn(7, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    plain = Objective(PromptLearner(causal_backbone, synth.class_names, intrinsic_dim=16, chunk_rows=12), synth, 100)
    learner, counting = padded_learner(causal_backbone, synth.class_names, intrinsic_dim=16, chunk_rows=12)
    padded = Objective(learner, synth, 100)
    torch.testing.assert_close(padded.losses(W), plain.losses(W), **ROUNDING)
    assert counting.rows == [12, 12, 12, 8]  # 2 w (10 prompts) per chunk of 12, the last w alone
    assert padded.evaluate(W[0]).train_loss == pytest.approx(plain.evaluate(W[0]).train_loss, rel=1e-5)


def test_a_job_through_the_padded_path_ends_where_the_plain_one_does(causal_backbone, synth, monkeypatch):
    """cuda_graphs='auto' with the GPU's capture replaced by the eager padded forward (the only stand-in: no GPU
    here) against 'off': the same queries, and the same losses and adapter up to float32 rounding, which each
    zeroth-order step magnifies by lr / mu (3,000 here: a few units in the last place became 3e-4 of the loss by
    the seventh point on one machine, while a wrong row would be off by tenths)."""
    def on_this_cpu(setting, encode, device, max_rows):
        return StaticShapeForward(encode, device, max_rows, capture=False) if setting == "auto" else None
    monkeypatch.setattr("tuning.backbones.prompts.static_forward", on_this_cpu)
    runs = {}
    for setting in ("auto", "off"):
        cfg = tuning.TuneConfig(method="sharpzo", backbone="tiny-causal", device="cpu", budget=60, intrinsic_dim=16,
                                popsize=4, stage1_generations=3, patience=0, mask_every=10, eval_every=5,
                                text_batch_size=12, cuda_graphs=setting)
        runs[setting] = tuning.tune(cfg, synth, backbone=causal_backbone)
    auto, off = runs["auto"], runs["off"]
    assert auto.queries_used == off.queries_used >= 50
    assert [p["train_loss"] for p in auto.history] == pytest.approx([p["train_loss"] for p in off.history], rel=1e-2)
    torch.testing.assert_close(auto.adapter.w, off.adapter.w, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(auto.adapter.class_embeddings, off.adapter.class_embeddings, rtol=1e-2, atol=1e-2)


def test_gradients_and_swapped_tensors_take_the_eager_path(causal_backbone):
    plain = PromptLearner(causal_backbone, CLASSES, intrinsic_dim=8)
    learner, counting = padded_learner(causal_backbone, CLASSES, intrinsic_dim=8)
    P = learner.contexts(torch.randn(2, 8))
    # CoOp's backprop step: a recorded graph has no autograd
    T = learner.features_from_contexts(P.clone().requires_grad_(), grad=True)
    assert T.requires_grad and counting.rows == []
    assert torch.equal(T.detach(), plain.features_from_contexts(P, grad=True).detach())
    # adapt='sparse' with text groups: the text projection swapped for this call only (a random change: adding a
    # constant would be lost, the LayerNorm before the projection makes every row sum to zero)
    proj = causal_backbone.model.text_projection
    changed = {"text_projection": proj + 0.1 * torch.randn(proj.shape, generator=torch.Generator().manual_seed(2))}
    got = learner.features_from_contexts(P, changed=changed)
    assert counting.rows == []
    assert torch.equal(got, plain.features_from_contexts(P, changed=changed))
    assert not torch.allclose(got, plain.features_from_contexts(P))  # the swap took effect
    with pytest.raises(RuntimeError, match="records no gradient"):
        learner.static_forward(P, learner.ids, learner.pool_pos)  # grad on outside inference mode


def test_a_tower_that_reads_tensors_on_the_host_is_never_captured(causal_backbone, hf_backbone):
    """The HF tower checks its attention mask in Python (a host read a CUDA graph cannot record): the runner
    says so and runs it eagerly, with the same numbers. The causal CLIP tower reads nothing on the host."""
    for bb, reads in ((causal_backbone, False), (hf_backbone, True)):
        learner = PromptLearner(bb, CLASSES, intrinsic_dim=8)
        with torch.inference_mode():
            assert bool(host_reads(learner.tower.encode, learner.base, learner.ids, learner.pool_pos)) == reads
    plain = PromptLearner(hf_backbone, CLASSES, intrinsic_dim=8)
    learner = PromptLearner(hf_backbone, CLASSES, intrinsic_dim=8)
    learner.static_forward = StaticShapeForward(learner.tower.encode, "cpu", learner.chunk_rows, capture=True)
    W = torch.randn(3, 8)
    assert torch.equal(learner.text_features(W), plain.text_features(W))
    assert "reads tensor values on the host" in learner.static_forward.eager_because
    assert learner.static_forward.state.startswith("eager (") and not learner.static_forward.graphs


def test_a_capture_that_fails_leaves_the_forward_eager_and_right(causal_backbone):
    """Here capture fails for want of a GPU; on a GPU any failure of it takes the same way: logged, eager after."""
    plain = PromptLearner(causal_backbone, CLASSES, intrinsic_dim=8)
    learner = PromptLearner(causal_backbone, CLASSES, intrinsic_dim=8)
    learner.static_forward = StaticShapeForward(learner.tower.encode, "cpu", learner.chunk_rows, capture=True)
    W = torch.randn(3, 8)
    for _ in range(2):  # the second call does not try again
        assert torch.equal(learner.text_features(W), plain.text_features(W))
    assert learner.static_forward.eager_because.startswith("capture failed: ")
    assert not learner.static_forward.graphs


def test_the_setting_is_checked_and_older_jobs_keep_eager_forwards(causal_backbone, synth):
    assert tuning.TuneConfig().cuda_graphs == "auto"
    with pytest.raises(tuning.ConfigError, match="Setting 'cuda_graphs' must be one of auto, off; got 'on'"):
        tuning.TuneConfig.from_dict({"cuda_graphs": "on"})
    record = tuning.TuneConfig().to_dict()
    del record["cuda_graphs"]
    assert tuning.TuneConfig.from_record(record).cuda_graphs == "off"
    with pytest.raises(ValueError, match="Setting 'cuda_graphs' must be one of auto, off; got 'yes'"):
        PromptLearner(causal_backbone, CLASSES, intrinsic_dim=8, cuda_graphs="yes")
    # on the CPU 'auto' leaves the plain eager path exactly as it was
    from tuning.tuner import prompt_learner
    assert prompt_learner(tuning.TuneConfig(device="cpu"), causal_backbone, synth).static_forward is None


# ---------------------------------------------------------------------------- on a CUDA GPU only

@pytest.fixture
def cuda_backbone(causal_backbone):
    return tuning.load_backbone("tiny-causal", device="cuda")


@needs_cuda
def test_recorded_graphs_replay_what_the_eager_forward_computes(cuda_backbone):
    graphed_learner = PromptLearner(cuda_backbone, CLASSES, intrinsic_dim=8, chunk_rows=16, cuda_graphs="auto")
    eager = PromptLearner(cuda_backbone, CLASSES, intrinsic_dim=8, chunk_rows=16, cuda_graphs="off")
    runner = graphed_learner.static_forward
    assert runner is not None and eager.static_forward is None
    for seed in range(3):  # new values each call: the static buffers are refilled, not stale
        W = torch.randn(7, 8, generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(graphed_learner.text_features(W), eager.text_features(W), atol=1e-5)
    assert runner.eager_because is None and len(runner.graphs) == 2  # chunks of 16, and 3 rows padded to 8
    graphed_learner.precision = "autocast"  # another number format is another recording
    graphed_learner.text_features(W)
    assert len(runner.graphs) == 4 and runner.state == "CUDA graphs (4 recorded)"


@needs_cuda
def test_a_job_with_cuda_graphs_matches_the_eager_job(cuda_backbone, synth):
    runs = {}
    for setting in ("auto", "off"):
        cfg = tuning.TuneConfig(method="zosgd", backbone="tiny-causal", device="cuda", budget=40, intrinsic_dim=16,
                                eval_every=5, cuda_graphs=setting)
        runs[setting] = tuning.tune(cfg, synth, backbone=cuda_backbone)
    auto, off = runs["auto"], runs["off"]
    assert auto.queries_used == off.queries_used
    assert [p["train_loss"] for p in auto.history] == pytest.approx([p["train_loss"] for p in off.history], rel=1e-3)
