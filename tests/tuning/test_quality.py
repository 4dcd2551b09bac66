"""Balanced accuracy, intervals, the do-no-harm decision, class drops and the
recommendation (tuning/quality.py), and the tuner choosing on balanced validation accuracy."""
import pytest
from tiny_run import tiny_config

import tuning
from tuning.quality import balanced_accuracy_interval
from tuning.splits import split_sizes

# The walkthrough's case: the test split is almost all of one big class.
IMBALANCED = [[90, 0, 0],   # "good": 90 images, all right
              [3, 1, 0],    # "scratch": 4 images, 1 right
              [3, 0, 1]]    # "dent": 4 images, 1 right


def test_balanced_accuracy_is_mean_recall_not_plain_accuracy():
    q = tuning.quality_of(IMBALANCED, ["good", "scratch", "dent"])
    assert q.accuracy == pytest.approx(92 / 98)
    assert q.balanced_accuracy == pytest.approx((1 + 0.25 + 0.25) / 3)
    assert q.images == 98
    assert q.per_class_recall == {"good": 1.0, "scratch": 0.25, "dent": 0.25}
    assert tuning.balanced_accuracy([[0, 0], [1, 1]]) == 0.5  # a class without images is left out
    assert tuning.balanced_accuracy([[0, 0], [0, 0]]) is None


def test_intervals_contain_the_estimate_and_are_reproducible():
    lo, hi = tuning.wilson_interval(8, 10)
    assert lo < 0.8 < hi and 0 <= lo and hi <= 1
    assert tuning.wilson_interval(0, 0) is None
    assert tuning.wilson_interval(10, 10)[1] == pytest.approx(1.0)
    q = tuning.quality_of(IMBALANCED)
    lo, hi = q.balanced_accuracy_interval
    assert lo < q.balanced_accuracy < hi
    assert balanced_accuracy_interval(IMBALANCED) == q.balanced_accuracy_interval  # seeded: same every time
    assert q.to_dict()["balanced_accuracy_interval"] == [lo, hi]


def test_a_model_that_predicts_one_class_for_every_image_gets_an_interval_of_real_width():
    lo, hi = tuning.quality_of([[40, 0], [40, 0]]).balanced_accuracy_interval
    assert lo < 0.5 < hi and hi - lo > 0.03  # it was "0.5000 (95% 0.5000-0.5000)"


def test_a_change_whose_interval_includes_zero_is_called_unclear():
    from tuning.quality import change_direction

    assert change_direction(0.57, (0.47, 0.66), 0.584, (0.49, 0.67)) == "unclear"
    assert change_direction(0.40, (0.30, 0.50), 0.80, (0.70, 0.88)) == "rose"
    assert change_direction(0.80, (0.70, 0.88), 0.40, (0.30, 0.50)) == "fell"
    assert change_direction(None, None, 0.5, None) == "unknown"
    # 17 of 27 right, then 24 of 27: the two intervals overlap, the change's own interval leaves out zero
    assert change_direction(17 / 27, tuning.wilson_interval(17, 27), 24 / 27, tuning.wilson_interval(24, 27)) == "rose"


def test_better_than_zero_shot_needs_a_strictly_higher_validation_score():
    assert tuning.beats_zero_shot(0.6, 0.5)
    assert not tuning.beats_zero_shot(0.5, 0.5)
    assert not tuning.beats_zero_shot(0.4, 0.5)
    assert not tuning.beats_zero_shot(None, 0.5)
    assert "did not beat" in tuning.not_better_sentence(0.5, 0.5)


def test_recall_drops_and_recommendation():
    zero = [[4, 0], [0, 4]]
    tuned = [[1, 3], [0, 4]]
    drops = tuning.recall_drops(zero, tuned, ["ok", "bad"])
    assert [(d.name, d.zero_shot, d.tuned) for d in drops] == [("ok", 1.0, 0.25)]
    assert "ok: recall fell from 100% to 25%" in drops[0].sentence()

    r = tuning.recommend(zero_shot_confusion=[[2, 2], [2, 2]], tuned_confusion=[[3, 1], [1, 3]],
                         class_names=["ok", "bad"], better_on_validation=True)
    assert r.action == "deploy" and r.sentence.startswith("Deploy")
    r = tuning.recommend(zero_shot_confusion=[[4, 0], [3, 1]], tuned_confusion=[[3, 1], [0, 4]],
                         class_names=["ok", "bad"], better_on_validation=True)
    assert r.action == "more_images" and "Try more images for ok" in r.sentence
    r = tuning.recommend(zero_shot_confusion=zero, tuned_confusion=tuned, class_names=["ok", "bad"],
                         better_on_validation=True)
    assert r.action == "do_not_deploy" and "no better" in r.sentence
    r = tuning.recommend(zero_shot_confusion=[[2, 2], [2, 2]], tuned_confusion=[[3, 1], [1, 3]],
                         class_names=["ok", "bad"], better_on_validation=False)
    assert r.action == "do_not_deploy" and "validation" in r.sentence


def test_stratified_split_keeps_every_class_in_validation_and_test():
    assert split_sizes(20, 16) == (16, 2, 2)
    assert split_sizes(18, 16) == (16, 1, 1)
    assert split_sizes(100, 4) == (4, 4, 92)
    assert split_sizes(17, 16) == (0, 0, 0)  # too few: shots + 2 needed


def test_tune_chooses_on_balanced_validation_and_says_whether_it_beat_zero_shot(synth):
    r = tuning.tune(tiny_config(method="zeroshot", budget=10), synth)
    assert r.best_val_balanced_acc == r.zero_shot_val_balanced_acc is not None
    assert not r.beats_zero_shot  # the zero-shot "adapter" is never better than zero-shot
    assert r.adapter.card["metrics"]["better_than_zero_shot"] is False
    r = tuning.tune(tiny_config(method="zosgd", budget=300), synth)
    assert r.best_val_balanced_acc >= r.zero_shot_val_balanced_acc  # zero-shot is the first candidate
    assert r.beats_zero_shot == (r.best_val_balanced_acc > r.zero_shot_val_balanced_acc)
    assert r.adapter.card["metrics"]["better_than_zero_shot"] == r.beats_zero_shot


def test_evaluation_carries_balanced_accuracy_and_confidences(synth, causal_backbone):
    ev = tuning.evaluate(causal_backbone, synth.test, class_names=synth.class_names)
    assert ev.balanced_accuracy == pytest.approx(tuning.balanced_accuracy(ev.confusion))
    assert len(ev.confidences) == len(synth.test) and all(0 < c <= 1 for c in ev.confidences)
    assert ev.quality().images == len(synth.test)
