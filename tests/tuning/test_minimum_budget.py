"""`minimum_budget`: the fewest queries with which every stage of a method moves once. Checked against
the stages themselves, so the rule the web form enforces cannot drift from what the tuner spends."""
import pytest

import tuning
from tiny_run import tiny_config
from tuning.config import minimum_budget


def _stages_that_moved(cfg, synth) -> set[str]:
    # A point whose step did not grow is an evaluation without a step (the start point, or the final one).
    moved, step = set(), 0
    for m in tuning.tune(cfg, synth).history:
        if m["step"] > step:
            moved.add(m["stage"])
        step = m["step"]
    return moved


@pytest.mark.parametrize("method, extra, stages", [
    ("sharpzo", {}, {"cmaes", "zo"}), ("sharpzo", {"mask_scores": "cge"}, {"cmaes", "zo"}),
    ("sharpzo", {"eval_every": 1, "q": 2}, {"cmaes", "zo"}),
    ("sharpzo", {"mask_scores": "cge", "stage1_grad": "cge", "stage1_budget_fraction": 0.5}, {"cmaes", "zo"}),
    ("sharpzo", {"mask_scores": "cge", "stage1_generations": 0}, {"zo"}),
    ("zosgd", {}, {"zo"}), ("cmaes", {}, {"cmaes"}), ("coop", {}, {"coop"}), ("coop", {"eval_every": 1}, {"coop"}),
])
def test_the_minimum_budget_moves_every_stage_and_one_less_does_not(method, extra, stages, synth):
    minimum = minimum_budget(tiny_config(method=method, **extra))
    assert _stages_that_moved(tiny_config(method=method, budget=minimum, **extra), synth) == stages
    assert _stages_that_moved(tiny_config(method=method, budget=minimum - 1, **extra), synth) != stages


def test_zero_shot_needs_its_one_query_and_the_default_sharpzo_more_than_ten():
    assert minimum_budget(tiny_config(method="zeroshot")) == 1
    assert minimum_budget(tuning.TuneConfig()) > 10  # issue 11's example of a budget too small to do anything
