"""adapt='sparse': feature reuse, forward-only sensitivity, the seeded sparse delta, query
accounting and the sparse adapter file, on the tiny random open_clip model and generated images."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from images import make_folder
from tiny_run import tiny_config

import tuning
from tuning.config import sensitivity_groups
from tuning.sparse import param_groups, sensitivity, vision_delta
from tuning.sparse import setup as sparse_setup
from tuning.sparse.image_reuse import CachedTower, first_tuned_block
from tuning.sparse.setup import pixels
from tuning.sparse.text_groups import CLASS_CONTEXT

SPARSE = dict(adapt="sparse", intrinsic_dim=8, vision_dim=12, param_budget=0.02, budget=300, sensitivity_probes=2,
              text_groups=True)


@pytest.fixture(scope="module")
def images_data(causal_backbone, tmp_path_factory):
    root = make_folder(tmp_path_factory.mktemp("sparse_imgs"), per_class=8)
    return tuning.load_image_folder(root, backbone=causal_backbone, shots=3)


@pytest.fixture(scope="module")
def tuned(images_data):
    return tuning.tune(tiny_config(method="zosgd", **SPARSE), images_data)


def _learner(backbone, data, cfg):
    from tuning.backbones.prompts import PromptLearner
    return PromptLearner(backbone, data.class_names, ctx_init=cfg.ctx_init, intrinsic_dim=cfg.intrinsic_dim,
                         proj_seed=cfg.seed)


def _some_change(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    delta = {}
    for name in ("visual.transformer.resblocks.1.mlp.c_fc.weight", "visual.transformer.resblocks.1.ln_2.bias",
                 "visual.proj"):
        idx = torch.randperm(params[name].numel(), generator=g)[:50]
        delta[name] = (idx, 0.05 * torch.randn(50, generator=g))
    return delta


@pytest.mark.parametrize("first", [0, 1])
def test_feature_reuse_equals_a_full_forward(causal_backbone, images_data, first):
    """Cached at or before the first changed block (block 1 here), the reused path is the full forward."""
    model = causal_backbone.model
    px = pixels(causal_backbone, images_data.train)
    delta = _some_change(model)
    assert first_tuned_block(delta, 2) == 1
    full = vision_delta.encode_with_delta(causal_backbone, delta, px)  # the whole image tower, changed
    reuse = CachedTower(model, px, first).features(vision_delta.overrides(model, delta))
    assert torch.allclose(reuse, full, atol=1e-5)
    plain = F.normalize(model.encode_image(px).float(), dim=-1)
    assert torch.allclose(CachedTower(model, px, first).features(), plain, atol=1e-5)
    assert not torch.allclose(full, plain, atol=1e-3)  # the change does change the features


def test_a_generation_batched_gives_the_losses_of_its_candidates_one_by_one(images_data):
    """JointObjective.losses runs a generation's candidates in one call on the shared cached input; each
    loss equals that candidate's alone, and the call charges one query per candidate."""
    from tuning.backbones.loader import load_backbone
    from tuning.runner import Run

    cfg = tiny_config(method="cmaes", allocation="random", **SPARSE)
    learner = _learner(load_backbone(cfg.backbone, device="cpu"), images_data, cfg)
    obj = sparse_setup.joint_objective(cfg, learner, images_data, cfg.budget)
    sparse_setup.place_vision_delta(Run(cfg, obj), obj, images_data)
    W = torch.randn(5, obj.space.dim, generator=torch.Generator().manual_seed(0))
    spent = obj.queries
    batched = obj.losses(W)
    assert obj.queries == spent + 5
    one_by_one = torch.cat([obj.losses(w) for w in W])
    assert torch.allclose(batched, one_by_one, rtol=1e-5, atol=1e-6), (batched - one_by_one).abs().max()
    assert len(set(batched.tolist())) == 5  # the candidates' image deltas do differ


def test_seeded_projection_is_the_same_held_or_chunked(causal_backbone, monkeypatch):
    model = causal_backbone.model
    chosen = {"visual.proj": torch.arange(300), "visual.ln_post.weight": torch.arange(64)}
    held = vision_delta.VisionDelta(model, chosen, 16, seed=3, scale=0.1)
    monkeypatch.setattr(vision_delta, "HOLD_BYTES", 0)
    monkeypatch.setattr(vision_delta, "CHUNK_ROWS", 100)
    chunked = vision_delta.VisionDelta(model, chosen, 16, seed=3, scale=0.1)
    assert chunked.held_bytes == 100 * 16 * 4 < held.held_bytes == 364 * 16 * 4
    W = torch.randn(3, 16)
    # chunks come from their own generators, so chunking changes A; each stays a function of the seed
    again = vision_delta.VisionDelta(model, chosen, 16, seed=3, scale=0.1)
    assert torch.equal(chunked.values(W), again.values(W))
    assert held.values(W).shape == chunked.values(W).shape == (3, 364)


class _LinearLoss:
    """A stand-in objective whose loss is linear in the image parameters with a known gradient."""

    def __init__(self, model, grads):
        self.model, self.grads, self.queries = model, grads, 0

    def losses_with_changes(self, tower, changes):  # changes: {name: (flat indices, values)}
        self.queries += len(changes)
        return torch.tensor([sum(float(c[n][1] @ g[c[n][0]]) for n, g in self.grads.items() if n in c)
                             for c in changes], dtype=torch.float64)


def test_sensitivity_ranks_the_only_group_that_matters_first(causal_backbone):
    model = causal_backbone.model
    groups = param_groups.image_groups(model)
    params = dict(model.named_parameters())
    only = "visual.transformer.resblocks.0.mlp.c_proj.weight"  # in group block0.mlp
    obj = _LinearLoss(model, {only: torch.randn(params[only].numel())})
    scores = sensitivity.estimate(obj, None, groups, probes=4, mu=1e-3, seed=0)
    assert obj.queries == sensitivity.probe_cost(groups, 4)
    assert sensitivity.order(groups, scores, 0)[0].name == "block0.mlp"
    assert all(scores[g.name] == 0 for g in groups if g.name != "block0.mlp")


@pytest.mark.parametrize("tensor, group", [("text_projection", "text.proj"),
                                           ("transformer.resblocks.1.ln_2.bias", "text.block1.ln"),
                                           ("text.class_context", "text.class_context")])
def test_sensitivity_ranks_a_text_group_that_alone_matters_first(causal_backbone, images_data, tensor, group):
    """Text-side groups are probed and ranked together with the image groups (the class-specific
    contexts are no tensor of the model: their size comes from the prompt learner)."""
    model = causal_backbone.model
    cfg = tiny_config(**SPARSE)
    learner = _learner(causal_backbone, images_data, cfg)
    groups = sparse_setup.candidate_groups(model, 0, learner)
    size = {g.name: g.numel for g in groups}[group] if tensor == "text.class_context" else \
        dict(model.named_parameters())[tensor].numel()
    obj = _LinearLoss(model, {tensor: torch.randn(size)})
    scores = sensitivity.estimate(obj, None, groups, probes=4, mu=1e-3, seed=0,
                                  other_rms=sparse_setup.other_rms(learner))
    assert sensitivity.order(groups, scores, 0)[0].name == group
    assert all(scores[g.name] == 0 for g in groups if g.name != group)


def test_a_text_probe_changes_the_loss_through_the_text_tower(causal_backbone, images_data):
    """On the real objective: a change of a text-side group moves the training loss, one query each."""
    cfg = tiny_config(method="cmaes", **SPARSE)
    learner = _learner(causal_backbone, images_data, cfg)
    obj = sparse_setup.joint_objective(cfg, learner, images_data, cfg.budget)
    groups = {g.name: g for g in sparse_setup.candidate_groups(obj.model, 0, learner)}
    tower = CachedTower(obj.model, pixels(causal_backbone, images_data.train), 0)
    g = torch.Generator().manual_seed(0)

    def random_change(group):
        sizes = {n: group.numel if n == CLASS_CONTEXT else obj.model.get_parameter(n).numel() for n in group.tensors}
        return {n: (torch.arange(k), 0.5 * torch.randn(k, generator=g)) for n, k in sizes.items()}

    changes = [{}] + [random_change(groups[name]) for name in ("text.class_context", "text.proj", "text.block1.bias")]
    L = obj.losses_with_changes(tower, changes)
    assert obj.queries == 4 and torch.isfinite(L).all()
    assert all(abs(float(L[i] - L[0])) > 1e-6 for i in (1, 2, 3))
    assert float(L[0]) == pytest.approx(float(obj.losses(torch.zeros(obj.space.dim))[0]), abs=1e-5)  # {} is w = 0


def test_sensitivity_compares_groups_per_parameter(causal_backbone):
    """A small group with a large gradient per entry outranks a large group with more total energy."""
    model = causal_backbone.model
    groups = param_groups.image_groups(model)
    params = dict(model.named_parameters())
    small, large = "visual.ln_post.bias", "visual.transformer.resblocks.1.mlp.c_fc.weight"
    rms = {n: float(params[n].float().pow(2).mean().sqrt()) or 1e-2 for n in (small, large)}
    grads = {small: torch.full((params[small].numel(),), 1.0 / rms[small]),  # per entry energy 1
             large: torch.full((params[large].numel(),), 0.1 / rms[large])}  # per entry 0.01, total larger
    scores = sensitivity.estimate(_LinearLoss(model, grads), None, groups, probes=64, mu=1e-3, seed=0)
    assert [g.name for g in sensitivity.order(groups, scores, 0)[:2]] == ["final.ln", "block1.mlp"]
    assert scores["final.ln"] == pytest.approx(0.5, rel=0.3)  # 64 energy-1 entries out of ln_post's 128
    assert scores["block1.mlp"] == pytest.approx(0.005, rel=0.3)


def test_allocation_spends_the_budget_unstructured_or_in_whole_rows(causal_backbone):
    model = causal_backbone.model
    groups = param_groups.image_groups(model)
    ordered = [g for g in groups if g.name == "block1.mlp"] + [g for g in groups if g.name != "block1.mlp"]
    loose = param_groups.allocate(model, ordered, 1000, structured=False)
    assert sum(i.numel() for i in loose.values()) == 1000
    rows = param_groups.allocate(model, ordered, 1000, structured=True)
    params = dict(model.named_parameters())
    assert sum(i.numel() for i in rows.values()) <= 1000
    for name, idx in rows.items():  # whole output channels of every matrix
        t = params[name]
        if t.dim() == 2 and not name.endswith("visual.proj"):
            per_row = torch.bincount(idx // t.shape[1])
            assert set(per_row[per_row > 0].tolist()) == {t.shape[1]}
    assert "visual.transformer.resblocks.1.mlp.c_fc.weight" in rows  # 15 whole rows of 64 fit in 1000


def test_probe_queries_are_charged_to_the_budget(images_data, causal_backbone):
    cfg = tiny_config(method="zeroshot", **{**SPARSE, "budget": 400})
    r = tuning.tune(cfg, images_data)
    groups = sparse_setup.candidate_groups(causal_backbone.model, 0, _learner(causal_backbone, images_data, cfg))
    # text ones too
    assert len(groups) == sensitivity_groups(cfg, len(param_groups.vision_blocks(causal_backbone.model)))
    probes = sensitivity.probes_that_fit(groups, cfg.sensitivity_probes, cfg.budget - 1)  # at most 10% of it
    assert probes == 1 and r.queries_used == 1 + sensitivity.probe_cost(groups, probes)
    assert r.adapter.card["sparse"]["vision"]["probes_per_group"] == 1
    random_order = tuning.tune(tiny_config(method="zeroshot", allocation="random", **SPARSE), images_data)
    assert random_order.queries_used == 1


@pytest.mark.parametrize("method", ["sharpzo", "cmaes", "zosgd"])
def test_every_method_runs_over_the_joint_vector_within_budget(method, images_data):
    r = tuning.tune(tiny_config(method=method, **SPARSE), images_data)
    assert r.queries_used <= SPARSE["budget"]
    dims = r.adapter.card["sparse"]["dims"]
    assert r.adapter.w.numel() == dims["prompt"] + dims["head"] + dims["vision"] == 8 + 9 + 12


def test_sparse_adapter_round_trips_and_predict_gives_the_in_process_predictions(tuned, images_data,
                                                                                causal_backbone, tmp_path):
    a = tuned.adapter
    assert a.vision_delta and any(v.abs().sum() > 0 for _, v in a.vision_delta.values())
    vision = a.card["sparse"]["vision"]
    parts = [*a.vision_delta.values(), *(a.text_delta or {}).values()]
    assert vision["parameters_changed"] == sum(i.numel() for i, _ in parts) > 0
    assert sum(g["changed"] for g in vision["groups"]) == vision["parameters_changed"]
    loaded = tuning.load_adapter(tuning.save_adapter(a, tmp_path / "a"))
    for name, (idx, vals) in a.vision_delta.items():
        assert torch.equal(loaded.vision_delta[name][0], idx) and torch.equal(loaded.vision_delta[name][1], vals)
    assert torch.equal(loaded.head_delta, a.head_delta)
    # in process: the tuner's own path (cached activations + the changed blocks) at the chosen w
    model = causal_backbone.model
    px = pixels(causal_backbone, images_data.val)
    first = vision["first_tuned_block"]
    z = CachedTower(model, px, first).features(vision_delta.overrides(model, a.vision_delta))
    in_process = (z @ a.class_embeddings.T).argmax(1).tolist()
    from_file = [p.index for p in tuning.predict(loaded, causal_backbone, images_data.val.paths)]
    assert from_file == in_process
    ev = tuning.evaluate(causal_backbone, images_data.val, adapter=loaded, class_names=images_data.class_names)
    assert ev.predictions == in_process and ev.accuracy == pytest.approx(tuned.best_val_acc)
    assert torch.allclose(tuning.apply_adapter(loaded, causal_backbone), a.class_embeddings, atol=1e-5)


def test_a_text_side_delta_round_trips_and_a_fresh_backbone_gives_the_in_process_class_embeddings(
        images_data, causal_backbone, tmp_path, monkeypatch):
    """Text groups placed first (class-specific contexts, the projection, ...): the adapter file carries their
    indices and values, apply_adapter recomputes the class embeddings from them on the backbone, and
    predict gives the in-process predictions."""
    order = sensitivity.order
    monkeypatch.setattr(sensitivity, "order", lambda groups, scores, seed: sorted(
        order(groups, scores, seed), key=lambda g: not g.name.startswith("text.")))
    r = tuning.tune(tiny_config(method="cmaes", **SPARSE), images_data)
    a = r.adapter
    assert "text.class_context" in a.text_delta and "text_projection" in a.text_delta
    assert any(v.abs().sum() > 0 for _, v in a.text_delta.values())
    loaded = tuning.load_adapter(tuning.save_adapter(a, tmp_path / "t"))
    assert a.card["format_version"] == loaded.card["format_version"] == 3  # readers from before refuse it
    for name, (idx, vals) in a.text_delta.items():
        assert torch.equal(loaded.text_delta[name][0], idx) and torch.equal(loaded.text_delta[name][1], vals)
    fresh = tuning.load_backbone("tiny-causal", device="cpu")
    assert torch.allclose(tuning.apply_adapter(loaded, fresh), a.class_embeddings, atol=1e-5)
    without = tuning.apply_adapter(dataclasses.replace(loaded, extras={k: v for k, v in loaded.extras.items()
                                                                       if "text" not in k}), fresh)
    assert not torch.allclose(without, a.class_embeddings, atol=1e-3)  # the text change does matter
    # in process: the class embeddings the tuner chose, on the images through the (changed) image tower
    z = vision_delta.encode_with_delta(causal_backbone, a.vision_delta or {}, pixels(causal_backbone, images_data.val))
    in_process = (z @ a.class_embeddings.T).argmax(1).tolist()
    assert [p.index for p in tuning.predict(loaded, fresh, images_data.val.paths)] == in_process
    ev = tuning.evaluate(fresh, images_data.val, adapter=loaded, class_names=images_data.class_names)
    assert ev.predictions == in_process and ev.accuracy == pytest.approx(r.best_val_acc)


def test_an_adapter_from_before_the_text_groups_still_loads_and_predicts(images_data, tmp_path):
    """A job recorded without the setting keeps the image-only groups (text_groups absent = False), and its
    adapter holds image tensors only: it loads, and predict gives what evaluate gives."""
    record = tiny_config(method="cmaes", **SPARSE).to_dict()
    del record["text_groups"]
    cfg = tuning.TuneConfig.from_record(record)
    assert cfg.text_groups is False and tuning.TuneConfig().text_groups is False  # opt-in (README)
    r = tuning.tune(cfg, images_data)
    assert all(not g["group"].startswith("text.") for g in r.adapter.card["sparse"]["vision"]["groups"])
    loaded = tuning.load_adapter(tuning.save_adapter(r.adapter, tmp_path / "old"))
    assert loaded.text_delta is None and loaded.vision_delta and loaded.card["format_version"] == 2
    ev = tuning.evaluate(tuning.load_backbone("tiny-causal", device="cpu"), images_data.val, adapter=loaded,
                         class_names=images_data.class_names)
    assert ev.accuracy == pytest.approx(r.best_val_acc)


def test_a_prompt_adapter_has_no_sparse_parts(images_data, tmp_path):
    r = tuning.tune(tiny_config(method="zosgd", budget=40, intrinsic_dim=8), images_data)
    loaded = tuning.load_adapter(tuning.save_adapter(r.adapter, tmp_path / "p"))
    assert loaded.vision_delta is None and loaded.head_delta is None and "sparse" not in loaded.card


def test_sparse_checkpoint_resume_equals_uninterrupted_run(images_data, tmp_path):
    cfg = tiny_config(method="sharpzo", **SPARSE)
    full = tuning.tune(cfg, images_data)
    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    polls = {"n": 0}

    def stop():
        polls["n"] += 1
        return polls["n"] > 4

    first = tuning.tune(cfg, images_data, should_stop=stop, checkpoint=ckpt)
    assert first.stopped
    second = tuning.tune(cfg, images_data, checkpoint=ckpt)
    assert second.queries_used == full.queries_used  # the probes are not run (or charged) again
    assert second.adapter.w.tolist() == full.adapter.w.tolist()


def test_sparse_needs_the_images(synth):
    with pytest.raises(tuning.DataError, match="needs the images"):
        tuning.tune(tiny_config(method="zosgd", **SPARSE), synth)


def test_metrics_say_how_much_of_the_image_tower_changes(images_data, causal_backbone):
    """The sparsity a user means: the share of the image tower's parameters left unchanged and
    how many changed, on every point of a sparse run; zero-shot changes nothing."""
    points = []
    r = tuning.tune(tiny_config(method="sharpzo", **SPARSE), images_data, on_metrics=points.append)
    vision = r.adapter.card["sparse"]["vision"]
    total = param_groups.vision_parameter_count(causal_backbone.model)
    assert vision["image_parameters"] == total
    assert vision["image_blocks"] == len(param_groups.vision_blocks(causal_backbone.model))
    assert (points[0]["stage"], points[0]["params_changed"], points[0]["sparsity"]) == ("zeroshot", 0, 1.0)
    tuned = [m for m in points if m["stage"] in ("cmaes", "zo")]
    assert {m["stage"] for m in tuned} == {"cmaes", "zo"}
    # stage 1's first point is its start, w = 0; from then on every chosen parameter moves
    assert tuned[0]["params_changed"] == 0 and all(m["params_changed"] == vision["parameters_changed"] > 0
                                                   for m in tuned[1:])
    # the share counts the image tower's changes only (text-side groups change other tensors)
    image_changed = sum(g["changed"] for g in vision["groups"] if not g["group"].startswith("text."))
    assert all(m["sparsity"] == pytest.approx(1 - (image_changed if m["params_changed"] else 0) / total) for m in tuned)
