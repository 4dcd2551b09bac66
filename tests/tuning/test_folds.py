"""The folds method 'auto' compares its quick candidates on: stratified, seeded, over the training and validation
images only, and each image scored by a fit that did not see it."""
from collections import Counter

import pytest
import torch

from tuning.methods.folds import fold_count, pool_of, stratified_folds

LABELS = [0] * 7 + [1] * 5 + [2] * 9 + [0, 2]  # classes of 8, 5 and 10 images, not in class order


@pytest.mark.parametrize("smallest, most, k", [(20, 5, 5), (3, 5, 3), (2, 5, 2), (9, 8, 8)])
def test_k_is_at_most_the_smallest_class(smallest, most, k):
    labels = [0] * 30 + [1] * smallest
    assert fold_count(labels, most) == k


def test_every_class_is_in_every_fold_in_level_shares():
    k = fold_count(LABELS, 5)
    assert k == 5
    fold = stratified_folds(LABELS, k, seed=0)
    for c in set(LABELS):
        per_fold = Counter(f for f, y in zip(fold, LABELS) if y == c)
        assert set(per_fold) == set(range(k)), c  # every fold has the class
        assert max(per_fold.values()) - min(per_fold.values()) <= 1
    sizes = Counter(fold).values()
    assert max(sizes) - min(sizes) <= 1


def test_the_folds_are_the_same_for_a_seed_and_differ_between_seeds():
    assert stratified_folds(LABELS, 5, seed=3) == stratified_folds(LABELS, 5, seed=3)
    assert stratified_folds(LABELS, 5, seed=3) != stratified_folds(LABELS, 5, seed=4)


def test_the_pool_is_the_training_and_validation_images_and_each_is_scored_unseen(synth, causal_backbone):
    from tuning.backbones.prompts import PromptLearner
    from tuning.objective import Objective

    learner = PromptLearner(causal_backbone, synth.class_names, intrinsic_dim=4, proj_seed=0)
    pool = pool_of(Objective(learner, synth, 1), 5, seed=0)
    assert torch.equal(pool.z, torch.cat([synth.train.features, synth.val.features]).float())
    assert pool.labels == synth.train.labels.tolist() + synth.val.labels.tolist() and pool.k == 5
    assert not any(bool((pool.z == t).all(1).any()) for t in synth.test.features.float())

    def fit_predict(z, y, held):
        seen = {tuple(row.tolist()) for row in z}
        assert not any(tuple(row.tolist()) in seen for row in held), "a fit scored an image it learnt from"
        assert len(z) + len(held) == len(pool.y)
        return torch.ones(len(held), pool.num_classes)
    assert pool.out_of_fold(fit_predict).shape == (len(pool.y), 5)
