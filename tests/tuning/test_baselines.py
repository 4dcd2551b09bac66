"""The baselines a user would pick instead of forward-only prompt tuning: a linear probe on the frozen
image features and Tip-Adapter's cache, alone and on top of tuned prompts. Each must learn on a
separable problem, spend no query beyond the zero-shot evaluation, and travel in its adapter file."""
import json

import pytest
import torch
from tiny_run import tiny_config

import tuning
from tuning.adapter import EXTRAS_FORMAT_VERSION, FORMAT_VERSION


def _test_accuracy(result, data, backbone):
    return tuning.evaluate(backbone, data.test, adapter=result.adapter, class_names=data.class_names).accuracy


@pytest.fixture(scope="module")
def zero_shot_accuracy(synth, causal_backbone):
    return tuning.evaluate(causal_backbone, synth.test, class_names=synth.class_names).accuracy


@pytest.mark.parametrize("method, extra", [("linear_probe", "head"), ("tip_adapter", "cache")])
def test_baseline_learns_without_queries(method, extra, synth, causal_backbone, zero_shot_accuracy):
    r = tuning.tune(tiny_config(method=method, probe_steps=200), synth)
    assert r.queries_used == 1  # the zero-shot evaluation; the rest reads cached features
    assert r.beats_zero_shot and r.best_val_acc >= r.zero_shot_val_acc + 0.2
    assert _test_accuracy(r, synth, causal_backbone) >= zero_shot_accuracy + 0.2
    assert r.adapter.card.get(extra) and r.adapter.card["format_version"] == EXTRAS_FORMAT_VERSION


def test_cache_on_top_of_tuned_prompts_never_scores_lower_on_validation(synth):
    plain = tuning.tune(tiny_config(method="zosgd", budget=150), synth)
    cached = tuning.tune(tiny_config(method="zosgd", budget=150, tip_cache=True), synth)
    assert cached.queries_used == plain.queries_used
    assert cached.best_val_balanced_acc >= plain.best_val_balanced_acc
    if "cache" in cached.adapter.card:  # kept only when it scored higher (ties: a lower validation loss)
        score = lambda r: (r.best_val_balanced_acc, -r.adapter.card["metrics"]["best_val_loss"])  # noqa: E731
        assert score(cached) > score(plain)


def test_linear_probe_chooses_its_l2_strength_on_validation(synth):
    r = tuning.tune(tiny_config(method="linear_probe", probe_steps=50), synth)
    fits = [m for m in r.history if m["stage"] == "probe"]
    assert len(fits) == len(tuning.methods.linear_probe.L2_STRENGTHS)
    assert r.best_val_acc == max(m["val_acc"] for m in fits + r.history[:1])


def test_a_probe_no_better_than_zero_shot_is_not_published(synth, monkeypatch):
    """Do no harm covers the new methods: a head that loses to zero-shot on validation is dropped."""
    monkeypatch.setattr(tuning.methods.linear_probe, "L2_STRENGTHS", (1e6,))  # a head crushed to zero
    r = tuning.tune(tiny_config(method="linear_probe", probe_steps=5), synth)
    assert "head" not in r.adapter.card and r.adapter.card["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize("method", ["linear_probe", "tip_adapter"])
def test_extras_round_trip_through_the_adapter_file(method, synth, causal_backbone, tmp_path):
    r = tuning.tune(tiny_config(method=method, probe_steps=100), synth)
    tuning.save_adapter(r.adapter, tmp_path / "a")
    loaded = tuning.load_adapter(tmp_path / "a")
    assert loaded.card == json.loads(json.dumps(r.adapter.card))
    assert loaded.extras.keys() == r.adapter.extras.keys()
    a = tuning.evaluate(causal_backbone, synth.test, adapter=r.adapter, class_names=synth.class_names)
    b = tuning.evaluate(causal_backbone, synth.test, adapter=loaded, class_names=synth.class_names)
    assert a.predictions == b.predictions and a.confusion == b.confusion


def test_an_adapter_missing_its_extras_is_refused(synth, tmp_path):
    from safetensors.torch import load_file, save_file
    r = tuning.tune(tiny_config(method="tip_adapter"), synth)
    tuning.save_adapter(r.adapter, tmp_path / "a")
    tensors = load_file(str(tmp_path / "a" / "adapter.safetensors"))
    del tensors["cache_keys"]
    save_file(tensors, str(tmp_path / "a" / "adapter.safetensors"))
    with pytest.raises(tuning.AdapterError, match="cache_keys"):
        tuning.load_adapter(tmp_path / "a")


def test_predict_applies_the_head(synth, causal_backbone, tmp_path):
    from images import make_folder
    r = tuning.tune(tiny_config(method="linear_probe", probe_steps=50), synth)
    files = sorted(make_folder(tmp_path / "imgs", per_class=1).rglob("*.png"))[:3]
    preds = tuning.predict(r.adapter, causal_backbone, files)
    z = tuning.data.encode_pil(causal_backbone, [__import__("PIL.Image").Image.open(f).convert("RGB") for f in files])
    expected = torch.softmax(z @ r.adapter.extras["head_weight"].T + r.adapter.extras["head_bias"], dim=-1)
    for p, e in zip(preds, expected):
        assert p.probabilities == pytest.approx(e.tolist(), abs=1e-5)


class _Untouchable:
    def __getattr__(self, name):
        raise AssertionError(f"a selection step read the test split ({name})")


@pytest.mark.parametrize("settings", [{"method": "linear_probe"}, {"method": "tip_adapter"},
                                      {"method": "zosgd", "budget": 60, "tip_cache": True},
                                      {"method": "auto", "budget": 120}])
def test_every_selection_step_reads_validation_only(settings, synth):
    """The probe's L2 strength and the cache's constants are chosen without the test split (method 'auto': its
    folds over the training and validation images, the refit of its winner too)."""
    import dataclasses
    blind = dataclasses.replace(synth, test=_Untouchable())
    r = tuning.tune(tiny_config(probe_steps=20, **settings), blind)
    assert r.best_val_acc >= r.zero_shot_val_acc
