"""Many classes (hundreds to a thousand): the searches' head and covariance are sized from K, so a job neither
runs out of memory nor searches a K*K head it cannot learn, and small K stays exactly as it was. Memory is
checked by the shapes the models hold, never by timing."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_run import tiny_config

import tuning
from tuning.adapter import cache_logits
from tuning.config import tuned_dim
from tuning.data import FewShotData, Split
from tuning.errors import ConfigError
from tuning.methods.cmaes import new_es
from tuning.methods.search_size import HEAD_DIRECTIONS, covariance_model, head_coordinates, head_directions
from tuning.quality import (
    balanced_accuracy,
    balanced_accuracy_interval,
    balanced_accuracy_of,
    class_tallies,
    tallies_interval,
)
from tuning.sparse.joint_objective import JointSpace, discriminant_directions


def many_classes_data(backbone, K: int, shots: int = 2, seed: int = 0) -> FewShotData:
    """K separable clusters of image features (no images: the searches read cached features only)."""
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(K, backbone.embed_dim, generator=g), dim=-1)

    def split(n):
        y = torch.arange(K).repeat(n)
        z = F.normalize(centres[y] + 0.3 * torch.randn(len(y), backbone.embed_dim, generator=g), dim=-1)
        return Split(z, y, [f"img{i}" for i in range(len(y))])
    return FewShotData([f"part {k}" for k in range(K)], split(shots), split(1), split(1), backbone_id=backbone.id,
                       dataset_hash=f"many-{K}", shots=shots, seed=seed)


def test_the_head_keeps_k_by_k_up_to_its_cap_and_grows_linearly_above():
    assert [head_directions(K, "auto") for K in (2, 6, HEAD_DIRECTIONS)] == [2, 6, HEAD_DIRECTIONS]
    assert head_directions(HEAD_DIRECTIONS + 1, "auto") == HEAD_DIRECTIONS
    assert head_coordinates(1000, "auto") == 1000 * HEAD_DIRECTIONS
    assert head_coordinates(1000, "full") == 1000 * 1000


def test_the_covariance_is_full_for_small_searches_and_diagonal_for_many_classes():
    default = tuning.TuneConfig()
    assert (default.cma_covariance, default.head_form) == ("auto", "auto")
    assert tuned_dim(default, 6) == 128 + 36 and covariance_model("auto", tuned_dim(default, 6)) == "full"
    assert tuned_dim(default, 1000) == 128 + 1000 * HEAD_DIRECTIONS
    assert covariance_model("auto", tuned_dim(default, 100)) == "diagonal"
    assert covariance_model("diagonal", 10) == "diagonal" and covariance_model("full", 600) == "full"


def test_an_explicit_full_covariance_that_cannot_fit_is_refused_in_words():
    d = tuned_dim(tuning.TuneConfig(head_form="full"), 1000)
    with pytest.raises(ConfigError, match="GiB of memory. Use 'auto' or 'diagonal'") as err:
        covariance_model("full", d)
    assert err.value.field == "cma_covariance"


def test_jobs_recorded_before_the_rule_keep_the_full_head_and_covariance():
    old = tuning.TuneConfig().to_dict()
    del old["head_form"], old["cma_covariance"]
    cfg = tuning.TuneConfig.from_record(old)
    assert (cfg.head_form, cfg.cma_covariance) == ("full", "full")
    assert tuned_dim(cfg, 100) == 128 + 100 * 100


def test_the_strategy_holds_no_d_by_d_matrix_above_the_threshold():
    def matrix_shape(d, setting):
        return np.shape(getattr(new_es(d, tuning.TuneConfig(cma_covariance=setting)).sm, "C", None))
    assert matrix_shape(164, "auto") == (164, 164)  # K = 6 with the default prompt: as before
    assert matrix_shape(600, "auto") == ()  # diagonal: d numbers
    assert matrix_shape(600, "full") == (600, 600)


def test_the_small_head_is_unchanged_and_the_capped_head_moves_each_class_along_its_own_direction():
    g = torch.Generator().manual_seed(0)
    K, D, prompt = 40, 32, 3
    y = torch.arange(K).repeat(3)
    z = F.normalize(torch.randn(K, D, generator=g)[y] + 0.2 * torch.randn(len(y), D, generator=g), dim=-1)

    full = JointSpace(prompt, K, z, y, head_scale=0.5, vision_dim=0)
    W = torch.randn(2, full.dim, generator=g)
    assert full.dims() == {"prompt": prompt, "head": K * K, "vision": 0}
    assert torch.allclose(full.head_delta(W), 0.5 * W[:, prompt:].view(2, K, K) @ full.prototypes)

    capped = JointSpace(prompt, K, z, y, head_scale=0.5, vision_dim=0, head_directions=HEAD_DIRECTIONS)
    assert capped.dims()["head"] == K * HEAD_DIRECTIONS and capped.shared.shape == (HEAD_DIRECTIONS - 1, D)
    assert torch.allclose(capped.shared @ capped.shared.T, torch.eye(HEAD_DIRECTIONS - 1), atol=1e-5)
    w = torch.zeros(1, capped.dim)
    w[0, prompt + 3 * HEAD_DIRECTIONS] = 2.0  # class 3's own coordinate
    delta = capped.head_delta(w)[0]
    assert torch.allclose(delta[3], 0.5 * 2.0 * capped.prototypes[3]) and not delta[torch.arange(K) != 3].any()
    w[0, prompt + 3 * HEAD_DIRECTIONS + 1] = 1.0  # and the first shared direction
    assert torch.allclose(capped.head_delta(w)[0, 3], 0.5 * (2.0 * capped.prototypes[3] + capped.shared[0]))


def test_one_shot_a_class_still_gives_finite_directions():
    z = F.normalize(torch.randn(50, 16), dim=-1)
    P = discriminant_directions(z, torch.arange(50), 50)  # no within-class spread to whiten by
    assert torch.isfinite(P).all() and torch.allclose(P.norm(dim=1), torch.ones(50))


def test_balanced_accuracy_from_tallies_equals_the_confusion_matrix_way():
    rng = np.random.default_rng(0)
    K = 30
    labels, predictions = rng.integers(0, K, 400).tolist(), rng.integers(0, K, 400).tolist()
    confusion = [[0] * K for _ in range(K)]
    for y, p in zip(labels, predictions):
        confusion[y][p] += 1
    assert balanced_accuracy_of(labels, predictions, K) == balanced_accuracy(confusion)
    assert tallies_interval(class_tallies(labels, predictions, K)) == balanced_accuracy_interval(confusion)


def test_the_cache_in_slices_equals_the_cache_at_once(monkeypatch):
    g = torch.Generator().manual_seed(0)
    z, keys = F.normalize(torch.randn(37, 8, generator=g), dim=-1), F.normalize(torch.randn(20, 8, generator=g), dim=-1)
    values = F.one_hot(torch.arange(20) % 5, 5).float()
    at_once = cache_logits(z, keys, values, 3.0, 2.0)
    monkeypatch.setattr("tuning.adapter.CACHE_AFFINITIES", 100)  # 5 images a slice
    assert torch.allclose(cache_logits(z, keys, values, 3.0, 2.0), at_once)


@pytest.mark.parametrize("method, extra", [("auto", {}), ("cmaes", {"adapt": "sparse", "param_budget": 0.0})])
def test_a_job_with_a_hundred_classes_finishes_and_its_adapter_loads(method, extra, causal_backbone, tmp_path):
    K = 100
    data = many_classes_data(causal_backbone, K)
    cfg = tiny_config(method=method, budget=30, popsize=4, probe_steps=20, **extra)
    result = tuning.tune(cfg, data, backbone=causal_backbone)
    assert result.queries_used <= cfg.budget and not result.stopped
    sparse = result.adapter.card["sparse"]
    assert sparse["dims"]["head"] == K * HEAD_DIRECTIONS and sparse["head"]["directions_per_class"] == HEAD_DIRECTIONS
    assert len(result.adapter.w) == cfg.intrinsic_dim + K * HEAD_DIRECTIONS
    loaded = tuning.load_adapter(tuning.save_adapter(result.adapter, tmp_path / "adapter"))
    assert loaded.head_delta.shape == (K, causal_backbone.embed_dim)
    assert torch.equal(loaded.class_embeddings, result.adapter.class_embeddings)
    assert len(tuning.predict(loaded, causal_backbone, [_image()])[0].probabilities) == K


def _image():
    from PIL import Image
    return Image.new("RGB", (32, 32), (120, 60, 30))


def test_the_bench_relabels_real_images_into_k_classes_of_equal_size_that_follow_the_features():
    from bench.many_classes import relabel
    g = torch.Generator().manual_seed(0)
    blobs = torch.cat([torch.randn(30, 8, generator=g) - 5, torch.randn(30, 8, generator=g) + 5])
    assert sorted([relabel(blobs, 2)[:30], relabel(blobs, 2)[30:]]) == [[0] * 30, [1] * 30]
    sizes = np.bincount(relabel(torch.randn(3319, 8, generator=g), 1000))
    assert len(sizes) == 1000 and sizes.min() >= 3 and sizes.max() - sizes.min() <= 1
