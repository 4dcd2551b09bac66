"""Tuning must actually learn: on a separable problem whose optimum lies in the prompt space,
every forward-only method lowers the training loss and beats zero-shot on validation."""
import pytest
from tiny_run import tiny_config

import tuning


@pytest.mark.parametrize("method", ["sharpzo", "cmaes", "zosgd", "coop"])
def test_tuning_beats_zero_shot(method, synth, causal_backbone):
    r = tuning.tune(tiny_config(method=method, budget=1500, stage1_generations=15, mask_every=100,
                                eval_every=10), synth)
    zs = r.history[0]
    best = max(r.history, key=lambda m: (m["val_acc"], -m["train_loss"]))
    assert min(m["train_loss"] for m in r.history) < 0.8 * zs["train_loss"]
    assert r.best_val_acc >= zs["val_acc"] + 0.1, (zs, best)
    tuned = tuning.evaluate(causal_backbone, synth.test, adapter=r.adapter, class_names=synth.class_names)
    zero = tuning.evaluate(causal_backbone, synth.test, class_names=synth.class_names)
    assert tuned.accuracy > zero.accuracy
