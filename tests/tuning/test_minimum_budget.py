"""`minimum_budget`: the fewest queries with which every stage of a method moves once. Checked against
the stages themselves, so the rule the web form enforces cannot drift from what the tuner spends."""
import pytest
from images import make_folder
from tiny_run import tiny_config

import tuning
from tuning.config import minimum_budget, sensitivity_groups
from tuning.sparse.param_groups import vision_blocks


def _stages_that_moved(cfg, synth) -> set[str]:
    return _moved(tuning.tune(cfg, synth).history)


def _moved(history) -> set[str]:
    # A point whose step did not grow is an evaluation without a step (the start point, or the final one).
    moved, step = set(), 0
    for m in history:
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


def test_zero_shot_needs_its_one_query_and_sharpzo_and_the_default_auto_more_than_ten():
    assert minimum_budget(tiny_config(method="zeroshot")) == 1
    assert minimum_budget(tuning.TuneConfig(method="sharpzo")) > 10  # a budget too small to do anything
    auto = tuning.TuneConfig()
    assert auto.method == "auto"
    assert minimum_budget(auto, num_classes=6) >= 2 * minimum_budget(tuning.TuneConfig(method="cmaes", adapt="sparse",
                                                                                    param_budget=0.0),
                                                                     num_classes=6) - 1



@pytest.fixture(scope="module")
def image_data(causal_backbone, tmp_path_factory):
    root = make_folder(tmp_path_factory.mktemp("minimum_imgs"), per_class=5)
    return tuning.load_image_folder(root, backbone=causal_backbone, shots=2)


SPARSE = dict(adapt="sparse", param_budget=0.02, vision_dim=4, text_groups=True)
STAGES = {"sharpzo": {"cmaes", "zo"}, "cmaes": {"cmaes"}, "zosgd": {"zo"}}


@pytest.mark.parametrize("method, extra", [
    ("sharpzo", {}), ("cmaes", {}), ("zosgd", {}),
    # A CGE sweep runs over the joint vector [prompt | K*K head | image delta], not the prompt alone.
    ("sharpzo", {"mask_scores": "cge"}),
    ("sharpzo", {"mask_scores": "cge", "stage1_grad": "cge", "stage1_budget_fraction": 0.5}),
])
def test_sparse_minimum_probes_every_group_once_and_moves_every_stage(method, extra, image_data, causal_backbone):
    """The minimum ignored the sensitivity probes, so a job at the minimum
    placed its image delta in a random order. Counted from the settings, the number of blocks and the
    number of classes alone."""
    blocks, K = len(vision_blocks(causal_backbone.model)), len(image_data.class_names)
    minimum = minimum_budget(tiny_config(method=method, **SPARSE, **extra), image_blocks=blocks, num_classes=K)
    assert minimum > minimum_budget(tiny_config(method=method, **extra))

    def run(budget):
        result = tuning.tune(tiny_config(method=method, budget=budget, **SPARSE, **extra), image_data)
        return result.adapter.card["sparse"]["vision"], _moved(result.history)

    vision, moved = run(minimum)
    assert vision["probes_per_group"] >= 1 and moved == STAGES[method]
    # the count tuning.config makes without the model: 4 a block, 2 after them, and the text side's 6
    assert len(vision["groups"]) == sensitivity_groups(tiny_config(method=method, **SPARSE, **extra), blocks) \
        == 4 * blocks + 2 + 6
    vision, moved = run(minimum - 1)
    assert vision["probes_per_group"] == 0 or moved != STAGES[method]


@pytest.mark.parametrize("extra", [{"mask_scores": "cge"}, {"mask_scores": "cge", "stage1_grad": "cge"}])
def test_sparse_minimum_without_image_delta_counts_the_head_in_a_cge_sweep(extra, image_data):
    """param_budget=0 (the form's default): no probes, but the joint vector still carries the K*K head,
    and a CGE sweep over it costs 2 queries a coordinate. Counting the prompt alone (the old rule) left
    a job at the minimum without its stage-2 step."""
    K = len(image_data.class_names)  # the sweeps run only with a mask or a shift to feed (rho, sparsity > 0)
    settings = dict(method="sharpzo", adapt="sparse", param_budget=0.0, stage1_budget_fraction=0.5, rho=0.1,
                    sparsity=0.25, **extra)
    minimum = minimum_budget(tiny_config(**settings), num_classes=K)
    assert minimum > minimum_budget(tiny_config(**settings))  # the head unknown: a lower bound
    assert _moved(tuning.tune(tiny_config(budget=minimum, **settings), image_data).history) == {"cmaes", "zo"}
    assert _moved(tuning.tune(tiny_config(budget=minimum - 1, **settings), image_data).history) != {"cmaes", "zo"}


@pytest.mark.parametrize("searches", ["sharpzo,cmaes", "zosgd,cmaes"])
def test_the_minimum_budget_of_auto_moves_both_of_its_searches(synth, searches):
    cfg = tiny_config(method="auto", auto_searches=searches)
    minimum = minimum_budget(cfg, num_classes=len(synth.class_names))
    result = tuning.tune(tiny_config(method="auto", auto_searches=searches, budget=minimum), synth)
    assert _moved(result.history) == {"cmaes", "zo"}  # ZO-SGD steps are 'zo'; CMA-ES's generations are 'cmaes'
    searched = [e for e in result.leaderboard.entries if "@" in e.key]
    assert [e.method for e in searched] == searches.split(",") and all(e.queries > 1 for e in searched)
