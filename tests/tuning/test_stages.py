"""Stage 1 and stage 2 on a tiny random backbone: budget, metrics, stop, resume, determinism."""
import json

import pytest
from tiny_run import stop_after, tiny_config

import tuning

KEYS = {"step", "stage", "stage_started", "queries", "train_loss", "val_acc", "sharpness", "sparsity",
        "params_changed", "elapsed_s"}


class MemoryCheckpoint:
    def __init__(self):
        self.state = None
        self.saves = 0

    def load(self):
        return None if self.state is None else json.loads(self.state)

    def save(self, state):
        self.state = json.dumps(state)  # JSON-safe, and a copy
        self.saves += 1


def _strip_time(history):
    return [{k: v for k, v in m.items() if k != "elapsed_s"} for m in history]


@pytest.mark.parametrize("method", ["sharpzo", "cmaes", "zosgd", "coop", "zeroshot"])
@pytest.mark.parametrize("budget", [97, 400])
def test_budget_respected_and_metrics_reported(method, budget, synth):
    seen = []
    r = tuning.tune(tiny_config(method=method, budget=budget), synth, on_metrics=seen.append)
    assert r.queries_used <= budget
    if method != "zeroshot":
        assert r.queries_used >= budget - 40  # the budget is actually used
    assert seen == r.history and seen
    for m in seen:
        assert set(m) == KEYS
        assert m["queries"] <= budget
    assert [m["queries"] for m in seen] == sorted(m["queries"] for m in seen)
    assert r.best_val_acc >= r.zero_shot_val_acc
    assert not r.stopped


def test_sharpzo_reports_both_stages_with_sharpness_and_sparsity(synth):
    r = tuning.tune(tiny_config(budget=600, rho=0.1, sparsity=0.25), synth)
    stages = [m["stage"] for m in r.history]
    assert stages[0] == "zeroshot" and "cmaes" in stages and "zo" in stages
    assert stages.index("zo") > max(i for i, s in enumerate(stages) if s == "cmaes")
    assert all(m["sharpness"] is not None for m in r.history if m["stage"] == "cmaes")
    zo = [m for m in r.history if m["stage"] == "zo"]
    assert {m["sparsity"] for m in zo} == {0.0, 0.25}  # dense first window, then masked


def test_stage1_cost_matches_design(synth):
    cfg = tiny_config(budget=200, stage1_generations=3, stage1_budget_fraction=1.0, method="sharpzo",
                      stage1_grad="cge", rho=0.1)
    r = tuning.tune(cfg, synth)
    cm = [m for m in r.history if m["stage"] == "cmaes"]
    # per generation: 2d (CGE) + S candidates + 2 (mean eval + sharpness point)
    assert [b["queries"] - a["queries"] for a, b in zip(cm, cm[1:])] == [2 * 16 + 6 + 2] * 2


def test_population_gradient_costs_no_query_and_shifts_from_the_second_generation(synth):
    cfg = tiny_config(budget=200, stage1_generations=4, stage1_budget_fraction=1.0, method="sharpzo",
                      stage1_grad="population", rho=0.1)
    cm = [m for m in tuning.tune(cfg, synth).history if m["stage"] == "cmaes"]
    assert [b["queries"] - a["queries"] for a, b in zip(cm, cm[1:])] == [6 + 2] * 3  # S + mean + sharpness
    assert cm[0]["sharpness"] == 0.0  # no earlier generation: no shift yet
    assert all(m["sharpness"] != 0.0 for m in cm[1:])


def test_history_mask_scores_cost_no_sweep_and_start_dense(synth):
    # Stage 2 alone (no stage 1), so every query after zero-shot is a stage-2 one.
    cfg = tiny_config(budget=300, stage1_generations=0, mask_scores="history", mask_every=20, eval_every=5,
                      rho=0.1, sparsity=0.25)
    zo = [m for m in tuning.tune(cfg, synth).history if m["stage"] == "zo"]
    assert [m["sparsity"] for m in zo[:4]] == [0.0] * 4  # steps 5..20: the first window is dense
    assert all(m["sparsity"] == pytest.approx(cfg.sparsity) for m in zo[4:-1])
    assert zo[3]["sharpness"] is None and zo[4]["sharpness"] is not None
    costs = [b["queries"] - a["queries"] for a, b in zip(zo, zo[1:])]
    step_and_eval = 5 * 2 * cfg.q + 1
    assert costs[:3] == [step_and_eval] * 3
    assert costs[3] == step_and_eval + 2  # the refresh at step 20 pays for the sharpness point only


def test_by_default_no_query_goes_to_the_shift_the_sharpness_or_a_mask(synth):
    # rho = 0 and sparsity = 0 (no measurable effect under the protocol): plain CMA-ES, then plain ZO-SGD.
    cfg = tiny_config(budget=300, stage1_generations=4, stage1_budget_fraction=1.0, mask_every=5, eval_every=5,
                      stage1_grad="cge")
    assert (cfg.rho, cfg.sparsity) == (0.0, 0.0)
    history = tuning.tune(cfg, synth).history
    cm = [m for m in history if m["stage"] == "cmaes"]
    assert [b["queries"] - a["queries"] for a, b in zip(cm, cm[1:])] == [6 + 1] * 3  # S + mean: no CGE, no point
    zo = [m for m in history if m["stage"] == "zo"]
    assert [b["queries"] - a["queries"] for a, b in zip(zo, zo[1:-1])] == [5 * 2 * cfg.q + 1] * (len(zo) - 2)
    assert all(m["sharpness"] is None for m in cm + zo) and all(m["sparsity"] == 0.0 for m in zo)


def test_a_record_without_rho_or_sparsity_keeps_the_mechanisms_it_ran_with():
    old = tuning.TuneConfig.from_record({"method": "sharpzo"})
    assert (old.rho, old.sparsity) == (0.1, 0.25)


def test_should_stop_returns_best_so_far(synth):
    polls = {"n": 0}

    def stop():
        polls["n"] += 1
        return polls["n"] > 4

    r = tuning.tune(tiny_config(budget=2000), synth, should_stop=stop)
    assert r.stopped and r.queries_used < 2000
    assert r.adapter.class_embeddings.shape[0] == len(synth.class_names)
    assert r.best_val_acc == max(m["val_acc"] for m in r.history)


@pytest.mark.parametrize("method,stop_after,extra", [
    ("sharpzo", 3, {}), ("sharpzo", 14, {}), ("sharpzo", 3, {"stage1_grad": "cge"}),
    ("sharpzo", 12, {"stage1_grad": "cge", "mask_scores": "cge"}),
    ("coop", 7, {}), ("cmaes", 5, {}), ("zosgd", 9, {}),
    ("auto", 8, {}), ("auto", 14, {}), ("auto", 60, {})])  # auto: in its SharpZO, in its CMA-ES
def test_checkpoint_resume_equals_uninterrupted_run(method, stop_after, extra, synth, tmp_path):
    cfg = tiny_config(method=method, budget=200 if method == "coop" else 500, **extra)
    full = tuning.tune(cfg, synth)

    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    polls = {"n": 0}

    def stop():
        polls["n"] += 1
        return polls["n"] > stop_after

    first = tuning.tune(cfg, synth, should_stop=stop, checkpoint=ckpt)
    assert first.stopped
    state = ckpt.load()
    assert state["queries"] == first.queries_used and state["step"] > 0
    second = tuning.tune(cfg, synth, checkpoint=ckpt)
    assert not second.stopped
    assert second.history[: len(first.history)] == first.history  # continues the same record
    assert second.queries_used == full.queries_used
    assert _strip_time(second.history) == _strip_time(full.history)
    assert second.adapter.w.tolist() == full.adapter.w.tolist()
    assert second.best_val_acc == full.best_val_acc


def test_checkpoint_from_before_a_setting_existed_resumes_with_the_algorithm_it_started_with(synth, tmp_path):
    """A job stored before `mask_scores` and `precision` existed built its masks from CGE sweeps and ran
    the text tower in the device's fast format. Its record lacks both keys; resumed after the upgrade, it
    must go on exactly so, and end equal to an uninterrupted run with those settings."""
    old_record = tiny_config(budget=500).to_dict()
    for key in ("mask_scores", "precision"):
        del old_record[key]
    cfg = tuning.TuneConfig.from_record(old_record)
    assert (cfg.mask_scores, cfg.precision) == ("cge", "autocast")
    full = tuning.tune(cfg, synth)

    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    first = tuning.tune(cfg, synth, should_stop=stop_after(30), checkpoint=ckpt)
    state = ckpt.load()
    assert state["phase"] == "zo" and state["phase_state"]["k"] > cfg.mask_every  # a refresh happened
    state["config"] = {k: v for k, v in state["config"].items() if k in old_record}  # as the old release wrote
    state["phase"] = "stage2"  # the old release's name of the ZO-SGD stage (tuning.Stage.read maps it)
    for key in ("step_sum", "scores_from"):
        del state["phase_state"][key]
    ckpt.save(state)

    resumed = tuning.tune(tuning.TuneConfig.from_record(old_record), synth, checkpoint=ckpt)
    assert resumed.history[: len(first.history)] == first.history
    assert _strip_time(resumed.history) == _strip_time(full.history)
    assert resumed.adapter.w.tolist() == full.adapter.w.tolist()


def test_checkpoint_from_before_a_setting_existed_is_not_resumed_with_todays_default(synth, tmp_path):
    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    tuning.tune(tiny_config(budget=500, mask_scores="cge"), synth, should_stop=stop_after(14), checkpoint=ckpt)
    state = ckpt.load()
    del state["config"]["mask_scores"]
    ckpt.save(state)
    with pytest.raises(ValueError, match="other settings.*mask_scores"):
        tuning.tune(tiny_config(budget=500), synth, checkpoint=ckpt)  # today's default: history


def test_checkpoint_with_other_settings_is_refused(synth, tmp_path):
    ckpt = tuning.FileCheckpoint(tmp_path / "c.json")
    tuning.tune(tiny_config(budget=100), synth, checkpoint=ckpt)
    with pytest.raises(ValueError, match="other settings"):
        tuning.tune(tiny_config(budget=200), synth, checkpoint=ckpt)


def test_finished_checkpoint_returns_without_queries(synth, tmp_path):
    ckpt = tuning.FileCheckpoint(tmp_path / "c.json")
    a = tuning.tune(tiny_config(budget=150), synth, checkpoint=ckpt)
    b = tuning.tune(tiny_config(budget=150), synth, checkpoint=ckpt)
    assert b.queries_used == a.queries_used and b.history == a.history
    assert b.adapter.w.tolist() == a.adapter.w.tolist()


@pytest.mark.parametrize("method", ["sharpzo", "coop"])
def test_deterministic_for_a_seed(method, synth):
    budget = 120 if method == "coop" else 300
    a = tuning.tune(tiny_config(method=method, budget=budget), synth)
    b = tuning.tune(tiny_config(method=method, budget=budget), synth)
    assert _strip_time(a.history) == _strip_time(b.history)
    assert a.adapter.w.tolist() == b.adapter.w.tolist()
    c = tuning.tune(tiny_config(method=method, budget=budget, seed=1), synth)
    assert _strip_time(c.history) != _strip_time(a.history)


@pytest.mark.parametrize("rule", ["salient", "lowest"])
@pytest.mark.parametrize("start", ["mean", "recent_average"])
def test_mask_rules_and_start_points_run(rule, start, synth):
    r = tuning.tune(tiny_config(budget=300, mask_rule=rule, stage2_start=start, stage2_estimator="kernel_rge"), synth)
    assert r.queries_used <= 300


def test_z_pruning_mask_rules():
    import torch

    from tuning.methods.zo_sgd import z_pruning_mask
    w = torch.tensor([1.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    G = torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=torch.float64)
    assert z_pruning_mask(w, G, 0.5, "salient").tolist() == [1, 1, 0, 0]
    assert z_pruning_mask(w, G, 0.5, "lowest").tolist() == [0, 0, 1, 1]


def test_z_pruning_at_w_zero_follows_the_gradient_not_the_index_order():
    """At w = 0 every score w^2 * zscore|G| is 0; the mask must still keep the largest |G| (salient)."""
    import torch

    from tuning.methods.zo_sgd import z_pruning_mask
    w, G = torch.zeros(6, dtype=torch.float64), torch.tensor([0.1, -5.0, 0.2, 3.0, -0.3, 4.0], dtype=torch.float64)
    assert z_pruning_mask(w, G, 0.5, "salient").tolist() == [0, 1, 0, 1, 0, 1]
    assert z_pruning_mask(w, G, 0.5, "lowest").tolist() == [1, 0, 1, 0, 1, 0]


def test_mask_scores_differ_where_the_signed_z_score_inverts_the_weight_order():
    """Below-average |G| gives a negative z: the paper's score then prefers the smaller |w|; the
    absolute z-score and the rank sum prefer the larger |w|, as 'salient' means."""
    import torch

    from tuning.methods.zo_sgd import z_pruning_mask
    w = torch.tensor([0.1, 3.0, 1.0, 1.0], dtype=torch.float64)
    G = torch.tensor([1.0, 1.0, 8.0, 9.0], dtype=torch.float64)  # coordinates 0 and 1: below-average |G|
    # keep 3 of 4: which of coordinates 0 (small w) and 1 (large w) is dropped?
    assert z_pruning_mask(w, G, 0.25, "salient", "signed_z").tolist() == [1, 0, 1, 1]
    assert z_pruning_mask(w, G, 0.25, "salient", "abs_z").tolist() == [0, 1, 1, 1]
    assert z_pruning_mask(w, G, 0.25, "salient", "rank").tolist() == [0, 1, 1, 1]


@pytest.mark.parametrize("score", ["signed_z", "abs_z", "rank"])
def test_every_mask_score_at_w_zero_keeps_the_largest_gradients(score):
    import torch

    from tuning.methods.zo_sgd import z_pruning_mask
    w, G = torch.zeros(6, dtype=torch.float64), torch.tensor([0.1, -5.0, 0.2, 3.0, -0.3, 4.0], dtype=torch.float64)
    assert z_pruning_mask(w, G, 0.5, "salient", score).tolist() == [0, 1, 0, 1, 0, 1]


@pytest.mark.parametrize("extra", [{"stage2_update": "running_sum"},
                                   {"stage2_estimator": "kernel_rge", "kernel_range": 0.5},
                                   {"cma_covariance": "diagonal", "cma_bounds": 5.0}])
def test_seed_mechanism_settings_change_the_run_within_the_budget(extra, synth):
    base = tuning.tune(tiny_config(budget=300), synth)
    other = tuning.tune(tiny_config(budget=300, **extra), synth)
    assert other.queries_used <= 300
    assert other.adapter.w.tolist() != base.adapter.w.tolist()


def test_running_sum_resumes_from_its_checkpoint(synth, tmp_path):
    cfg = tiny_config(method="zosgd", budget=300, stage2_update="running_sum")
    full = tuning.tune(cfg, synth)
    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    assert tuning.tune(cfg, synth, should_stop=stop_after(9), checkpoint=ckpt).stopped
    assert tuning.tune(cfg, synth, checkpoint=ckpt).adapter.w.tolist() == full.adapter.w.tolist()
