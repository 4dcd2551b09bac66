import dataclasses

import pytest
import torch
from images import make_folder

import tuning


def test_every_field_has_help_and_round_trips():
    for f in dataclasses.fields(tuning.TuneConfig):
        assert f.metadata.get("help"), f.name
    cfg = tuning.TuneConfig(method="coop", budget=10)
    assert tuning.TuneConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("bad,field,msg", [
    ({"colour": 1}, None, "Unknown setting"),
    ({"method": "sgd"}, "method", "must be one of"),
    ({"budget": 0}, "budget", "at least 1"),
    ({"budget": "many"}, "budget", "must be a int"),
    ({"sparsity": 1.5}, "sparsity", "at most"),
    ({"lr": float("nan")}, "lr", "NaN"),
    ({"device": "tpu"}, "device", "device"),
    ({"method": "coop", "adapt": "sparse"}, "adapt", "forward-only methods"),
])
def test_bad_settings_raise_plain_errors_that_name_the_setting(bad, field, msg):
    with pytest.raises(tuning.ConfigError, match=msg) as raised:
        tuning.TuneConfig.from_dict(bad)
    assert raised.value.field == field and isinstance(raised.value, ValueError)


def test_image_folder_split_and_cache(causal_backbone, tmp_path):
    root = make_folder(tmp_path / "data", per_class=7)
    d = tuning.load_image_folder(root, backbone=causal_backbone, shots=2, seed=0, cache_dir=tmp_path / "cache")
    assert d.class_names == ["blue", "green", "red"]
    assert (len(d.train), len(d.val), len(d.test)) == (6, 6, 9)
    assert set(d.train.paths).isdisjoint(d.val.paths) and set(d.val.paths).isdisjoint(d.test.paths)
    assert torch.allclose(d.train.features.norm(dim=1), torch.ones(6))
    assert any((tmp_path / "cache").rglob("features.safetensors"))
    again = tuning.load_image_folder(root, backbone=causal_backbone, shots=2, seed=0, cache_dir=tmp_path / "cache")
    assert torch.equal(again.test.features, d.test.features) and again.dataset_hash == d.dataset_hash
    other = tuning.load_image_folder(root, backbone=causal_backbone, shots=2, seed=1)
    assert other.train.paths != d.train.paths


def test_data_errors(causal_backbone, tmp_path):
    root = make_folder(tmp_path / "data", per_class=3)
    with pytest.raises(tuning.DataError, match="has 3 images but 2 shots need at least 4"):
        tuning.load_image_folder(root, backbone=causal_backbone, shots=2)
    with pytest.raises(tuning.DataError, match="does not exist"):
        tuning.load_image_folder(tmp_path / "none", backbone=causal_backbone)
    (root / "red" / "broken.png").write_bytes(b"nope")
    with pytest.raises(tuning.DataError, match="Cannot read image"):
        tuning.load_image_folder(root, backbone=causal_backbone, shots=1)


def test_features_from_another_backbone_are_refused(synth, hf_backbone):
    with pytest.raises(tuning.DataError, match="computed with backbone"):
        tuning.tune(tuning.TuneConfig(backbone="tiny-hf", device="cpu", budget=5, intrinsic_dim=4), synth)


# The settings of the first release: a stored record always holds these. A setting added since must say,
# with `absent`, what the tuner did before it existed, so that an older job resumes unchanged.
FIRST_RELEASE_SETTINGS = {
    "method", "backbone", "budget", "shots", "seed", "device", "ctx_init", "intrinsic_dim", "proj_scale",
    "popsize", "sigma0", "rho", "stage1_grad", "rge_queries", "mu_cge", "stage1_generations", "patience",
    "stage1_budget_fraction", "stage2_start", "recent_generations", "lr", "mu", "q", "stage2_estimator",
    "mask_every", "sparsity", "mask_rule", "eval_every", "coop_lr", "coop_param", "text_batch_size",
    "checkpoint_every"}


def test_every_setting_added_since_the_first_release_says_what_its_absence_meant():
    for f in dataclasses.fields(tuning.TuneConfig):
        assert f.name in FIRST_RELEASE_SETTINGS or "absent" in f.metadata, f.name


def test_a_stored_record_keeps_its_values_and_fills_only_what_it_lacks():
    record = tuning.TuneConfig(lr=7.0, mask_scores="history").to_dict()
    del record["precision"]
    cfg = tuning.TuneConfig.from_record(record)
    assert (cfg.lr, cfg.mask_scores, cfg.precision) == (7.0, "history", "autocast")
    assert tuning.TuneConfig.from_dict({}).precision == "fp32"  # a new job gets today's default


@pytest.mark.parametrize("name,value", [("intrinsic_dim", 10**6), ("popsize", 10**7), ("budget", 2**31 - 1),
                                        ("text_batch_size", 10**9), ("mu", 0.0)])
def test_every_setting_is_bounded_and_the_help_gives_the_bound(name, value):
    with pytest.raises(ValueError, match=f"Setting '{name}' must be at (most|least)"):
        tuning.TuneConfig.from_dict({name: value})
    for f in dataclasses.fields(tuning.TuneConfig):
        if isinstance(f.default, (int, float)) and not isinstance(f.default, bool):  # a switch has no range
            assert "max" in f.metadata and "Allowed:" in f.metadata["help"], f.name
