"""Method 'auto': the choice rule in both directions, the warm start, and what the run returns."""
import pytest
import torch
from tiny_run import tiny_config

import tuning
from tuning.adapter import class_logits
from tuning.methods.candidates import cheap_candidates
from tuning.methods.choice import beats, cheaper_alternative, choose, paired_difference, reason
from tuning.methods.leaderboard import Entry, Leaderboard
from tuning.quality import balanced_accuracy_of

PER_CLASS = 16  # the validation images a class keeps at 16 shots


def _labels(K=2, n=PER_CLASS):
    return [k for k in range(K) for _ in range(n)]


def _predictions(labels, wrong_per_class: int, K=2):
    """Each class's first `wrong_per_class` images predicted as the next class, the rest right."""
    out, seen = [], {}
    for y in labels:
        seen[y] = seen.get(y, 0) + 1
        out.append((y + 1) % K if seen[y] <= wrong_per_class else y)
    return out


def _entry(key, labels, predictions, queries=1, K=2):
    bacc = balanced_accuracy_of(labels, predictions, K)
    return Entry(key=key, method=key.split("@")[0], warm_start=None, val_balanced_acc=bacc,
                 val_balanced_acc_interval=None, val_acc=bacc, queries=queries, seconds=0.0,
                 val_predictions=predictions)


def test_better_by_an_image_or_two_does_not_beat_the_cheaper_candidate():
    labels = _labels()
    cheap = _entry("linear_probe", labels, _predictions(labels, 4))
    search = _entry("cmaes@linear_probe", labels, _predictions(labels, 3), queries=2000)  # one image a class more
    assert search.val_balanced_acc > cheap.val_balanced_acc
    challenge = beats(search, cheap, labels, 2)
    assert not challenge.won and challenge.interval[0] <= 0 < challenge.difference and challenge.images == 32
    chosen, _ = choose([cheap, search], labels, 2)
    assert chosen == "linear_probe"


def test_better_by_more_than_the_noise_wins():
    labels = _labels()
    cheap = _entry("linear_probe", labels, _predictions(labels, 8))
    search = _entry("cmaes@linear_probe", labels, _predictions(labels, 1), queries=2000)
    challenge = beats(search, cheap, labels, 2)
    assert challenge.won and challenge.interval[0] > 0
    assert choose([cheap, search], labels, 2)[0] == "cmaes@linear_probe"


def test_a_tie_or_a_worse_challenger_never_wins():
    labels = _labels()
    cheap = _entry("linear_probe", labels, _predictions(labels, 2))
    assert not beats(_entry("x", labels, _predictions(labels, 2)), cheap, labels, 2).won
    assert not beats(_entry("y", labels, _predictions(labels, 10)), cheap, labels, 2).won


def _folded(key, labels, predictions, queries=1, K=2):
    """An entry whose out-of-fold predictions over the pool are `predictions` (its validation ones: all wrong,
    so a decision that read them instead would go the other way)."""
    entry = _entry(key, labels, [(y + 1) % K for y in labels], queries=queries, K=K)
    entry.cv_predictions = predictions
    entry.cv_balanced_acc = balanced_accuracy_of(labels, predictions, K)
    return entry


@pytest.mark.parametrize("wrong, wins", [(3, False), (0, True)])  # one image a class more; seven a class more
def test_the_choice_rule_over_folds_in_both_directions(wrong, wins):
    """Over the out-of-fold predictions of 32 pool images a class, the costlier candidate wins only by more than
    the noise; the challenge says it rested on every pool image and on how many folds."""
    labels = _labels(n=32)
    probe = _folded("linear_probe", labels, _predictions(labels, 4))
    tip = _folded("tip_adapter", labels, _predictions(labels, wrong))
    chosen, (challenge,) = choose([probe, tip], labels, 2, folds=5)
    assert challenge.won is wins and chosen == ("tip_adapter" if wins else "linear_probe")
    assert challenge.images == 64 and challenge.folds == 5 and challenge.difference > 0
    text = reason([probe, tip], chosen, [challenge])
    assert "64 training and validation images" in text and "5-fold cross-validation" in text


def test_the_paired_bootstrap_is_stratified_and_deterministic():
    labels = _labels(K=3, n=5)
    a, b = _predictions(labels, 1, K=3), _predictions(labels, 3, K=3)
    first = paired_difference(labels, a, b, 3)
    assert first == paired_difference(labels, a, b, 3)
    assert first[0] == pytest.approx(0.4) and first[1] <= first[0] <= first[2]


def test_the_choice_never_ends_below_any_earlier_choice():
    """Whatever the candidates, the chosen one scores at least as high on validation as the cheapest,
    and at least as high as the choice among the cheap ones alone (auto's warm start)."""
    g = torch.Generator().manual_seed(0)
    labels = _labels(K=3, n=8)
    for _ in range(30):
        entries = []
        for i in range(5):
            preds = [y if torch.rand(1, generator=g).item() < 0.3 + 0.15 * i else (y + 1) % 3 for y in labels]
            entries.append(_entry(f"c{i}", labels, preds, K=3))
        chosen = {e.key: e for e in entries}[choose(entries, labels, 3)[0]]
        warm = {e.key: e for e in entries}[choose(entries[:3], labels, 3)[0]]
        assert chosen.val_balanced_acc >= warm.val_balanced_acc >= entries[0].val_balanced_acc


def test_a_cheaper_candidate_that_did_as_well_is_named():
    labels = _labels()
    probe = _entry("linear_probe", labels, _predictions(labels, 2))
    mine = _entry("cmaes", labels, _predictions(labels, 3), queries=2000)
    note = cheaper_alternative([probe, mine], "cmaes", labels, 2)
    assert note is not None and note.startswith("Linear probe did better") and "32 validation images" in note
    much_better = _entry("cmaes", labels, _predictions(labels, 0), queries=2000)
    worse_probe = _entry("linear_probe", labels, _predictions(labels, 9))
    assert cheaper_alternative([worse_probe, much_better], "cmaes", labels, 2) is None


def test_the_warm_start_is_exactly_where_the_search_begins(synth, causal_backbone):
    """Anchored on the linear probe, w = 0 of the joint objective scores what the probe scores."""
    from tuning.backbones.prompts import PromptLearner
    from tuning.sparse.setup import joint_objective

    cfg = tiny_config(method="auto")
    learner = PromptLearner(causal_backbone, synth.class_names, intrinsic_dim=cfg.intrinsic_dim, proj_seed=0)
    obj = joint_objective(cfg, learner, synth, cfg.budget)
    probe = next(s for s in cheap_candidates(obj, cfg) if s.entry.key == "linear_probe")
    obj.anchor_on(probe.logits_of)
    at_zero = obj.evaluate(torch.zeros(obj.space.dim))
    assert at_zero.val_balanced_acc == pytest.approx(probe.entry.val_balanced_acc)
    assert obj.losses(torch.zeros(1, obj.space.dim))[0] == pytest.approx(at_zero.train_loss, rel=1e-5)


@pytest.fixture(scope="module")
def auto_run(synth):
    return tuning.tune(tiny_config(method="auto", budget=300), synth)


def test_auto_returns_the_leaderboard_and_never_ends_below_its_warm_start(auto_run):
    """The searches are weighed against the warm start as fitted on the training images, on the validation images
    neither has seen: what auto returns scores at least that there (the refit of a winning warm start is not
    scored on validation, which it learned from; its figures are those of the fit it refits)."""
    board = auto_run.leaderboard
    keys = [e.key for e in board.entries]
    assert keys[:2] == ["zeroshot", "linear_probe"]
    assert {f"sharpzo@{board.warm_start}", f"cmaes@{board.warm_start}"} <= set(keys)
    chosen, warm = board.entry(board.chosen), board.entry(board.warm_start)
    assert chosen.val_balanced_acc >= warm.val_balanced_acc
    assert auto_run.best_val_balanced_acc == pytest.approx(chosen.val_balanced_acc)
    assert auto_run.queries_used <= 300 and board.validation_images == 40 and board.reason
    assert sum(e.queries for e in board.entries if "@" in e.key) == auto_run.queries_used - 1
    # The quick candidates were compared on all 80 training and validation images, the searches on validation.
    assert (board.folds, board.fold_images) == (5, 80)
    assert [(c.images, c.folds) for c in board.challenges] == [(80, 5)] * (len(board.challenges) - 2) + [(40, None)] * 2
    assert all(e.cv_balanced_acc is not None for e in board.entries if "@" not in e.key)


def test_a_winning_quick_candidate_is_refitted_on_training_and_validation_images(auto_run, synth, tmp_path):
    """The probe auto returns learnt from every non-test image: its head is the fit on training + validation at
    one of the probe's strengths, not the fit on the training images the searches started from, and it loads."""
    from tuning.methods.linear_probe import L2_STRENGTHS, fitted_head

    board = auto_run.leaderboard
    assert board.chosen == board.warm_start == "linear_probe", "the synthetic set no longer lets the probe win"
    assert "fitted again" in board.reason and "80 training and validation images" in board.reason
    head = auto_run.adapter.extras["head_weight"].flatten()
    steps = auto_run.adapter.card["config"]["probe_steps"]
    pool_z = torch.cat([synth.train.features, synth.val.features])
    pool_y = torch.cat([synth.train.labels, synth.val.labels])
    refits = [fitted_head(pool_z, pool_y, 5, l2=l2, steps=steps)["weight"] for l2 in L2_STRENGTHS]
    l2 = next(l2 for l2, w in zip(L2_STRENGTHS, refits) if torch.allclose(head, torch.tensor(w), atol=1e-6))
    train_only = fitted_head(synth.train.features, synth.train.labels, 5, l2=l2, steps=steps)["weight"]
    assert not torch.allclose(head, torch.tensor(train_only), atol=1e-3)
    tuning.save_adapter(auto_run.adapter, tmp_path / "adapter")
    z = synth.test.features.float()
    assert torch.equal(class_logits(tuning.load_adapter(tmp_path / "adapter"), z), class_logits(auto_run.adapter, z))


def test_without_folds_the_adapter_predicts_what_its_leaderboard_entry_says(synth):
    """auto_folds=0 (a job recorded before the folds): the quick candidates are compared on validation and nothing
    is refitted, so the saved adapter scores on validation exactly what the chosen entry scored there."""
    assert tuning.TuneConfig.from_record({"method": "auto"}).auto_folds == 0
    result = tuning.tune(tiny_config(method="auto", budget=120, auto_folds=0), synth)
    board = result.leaderboard
    predictions = class_logits(result.adapter, synth.val.features.float()).argmax(1).tolist()
    chosen = board.entry(board.chosen)
    assert predictions == chosen.val_predictions and board.folds is None
    assert all(c.folds is None and c.images == 40 for c in board.challenges)
    assert result.adapter.card["method"] == "auto"
    card_board = Leaderboard.from_dict(result.adapter.card["leaderboard"])
    assert card_board.chosen == chosen.key and card_board.entries[0].val_predictions == []


def test_a_winning_cache_is_refitted_over_training_and_validation_images(synth, tmp_path, monkeypatch):
    """Tip-Adapter as the winner (forced: the choice rule is rigged to keep it): the adapter's cache holds the
    training then the validation images, and it loads."""
    from tuning.methods import auto as auto_module

    def rigged(entries, labels, K, folds=None):
        keys = [e.key for e in entries]
        assert "tip_adapter" in keys, "the synthetic set no longer gives a cache"
        return "tip_adapter", []
    monkeypatch.setattr(auto_module, "choose", rigged)
    result = tuning.tune(tiny_config(method="auto", budget=120), synth)
    adapter = result.adapter
    assert adapter.card["cache"]["keys"] == "training+validation"
    assert torch.equal(adapter.extras["cache_keys"], torch.cat([synth.train.features, synth.val.features]).float())
    assert adapter.extras["cache_values"].argmax(1).tolist() == synth.train.labels.tolist() + synth.val.labels.tolist()
    tuning.save_adapter(adapter, tmp_path / "adapter")
    z = synth.test.features.float()
    assert torch.equal(class_logits(tuning.load_adapter(tmp_path / "adapter"), z), class_logits(adapter, z))


def test_do_no_harm_overrides_the_folds_and_the_board_says_so(synth, causal_backbone, monkeypatch):
    """Validation images that zero-shot gets all right and training images of pure noise: the probe (forced as the
    folds' choice) does not beat zero-shot on validation, so the zero-shot model is returned and the board names it."""
    import dataclasses

    from tuning.backbones.prompts import PromptLearner
    from tuning.data import Split
    from tuning.methods import auto as auto_module

    T0 = PromptLearner(causal_backbone, synth.class_names, intrinsic_dim=16, proj_seed=0).zero_shot_features()
    noise = torch.nn.functional.normalize(torch.randn(len(synth.train), T0.shape[1],
                                                      generator=torch.Generator().manual_seed(0)), dim=-1)
    data = dataclasses.replace(synth, train=Split(noise, synth.train.labels),
                               val=Split(T0[synth.val.labels].clone(), synth.val.labels))
    monkeypatch.setattr(auto_module, "choose", lambda entries, labels, K, folds=None: ("linear_probe", []))
    result = tuning.tune(tiny_config(method="auto", budget=120), data)
    board = result.leaderboard
    assert result.zero_shot_val_balanced_acc == 1.0 and board.entry("linear_probe").val_balanced_acc < 1.0
    assert board.chosen == "zeroshot" and board.reason.endswith("(do no harm).")
    assert "head" not in result.adapter.card and not result.adapter.w.any()


def test_every_searched_candidate_folds_into_a_working_adapter(synth):
    """Each warm start (zero-shot, probe, cache) with a search on top gives an adapter whose predictions
    match the search's entry; forced by making the searches the only candidates that can win."""
    from tuning.methods import auto as auto_module

    for warm in ("zeroshot", "linear_probe", "tip_adapter"):
        original = auto_module.choose

        def rigged(entries, labels, K, folds=None, warm=warm):
            keys = [e.key for e in entries]
            if all("@" not in k for k in keys):  # the cheap round names the warm start
                return (warm if warm in keys else keys[0]), []
            return next(k for k in keys if k.startswith("cmaes@")), []
        auto_module.choose = rigged
        try:
            result = tuning.tune(tiny_config(method="auto", budget=120), synth)
        finally:
            auto_module.choose = original
        board = result.leaderboard
        predictions = class_logits(result.adapter, synth.val.features.float()).argmax(1).tolist()
        assert predictions == board.entry(board.chosen).val_predictions, warm


def test_a_single_method_job_is_compared_with_the_cheap_candidates(synth):
    result = tuning.tune(tiny_config(method="cmaes", budget=120), synth)
    board = result.leaderboard
    assert board.chosen == "cmaes" and [e.key for e in board.entries][:2] == ["zeroshot", "linear_probe"]
    mine, probe = board.entry("cmaes"), board.entry("linear_probe")
    if probe.val_balanced_acc >= mine.val_balanced_acc:
        assert board.note and "did " in board.note
    assert tuning.tune(tiny_config(method="linear_probe"), synth).leaderboard is None


def test_auto_refuses_sparse_adapters():
    with pytest.raises(tuning.ConfigError):
        tuning.TuneConfig(method="auto", adapt="sparse").validate()


def test_auto_is_the_default_and_old_records_keep_their_method():
    assert tuning.TuneConfig().method == "auto"
    old = tiny_config().to_dict()
    old.pop("method")
    assert tuning.TuneConfig.from_record(old).method == "sharpzo"


@pytest.mark.parametrize("polls", [2, 12, 40])  # in the cheap candidates, in SharpZO, in CMA-ES
def test_a_resumed_auto_run_weighs_the_same_candidates(synth, tmp_path, polls, auto_run):
    """A worker crash (here: a stop) at any point: the resumed run recomputes the cheap candidates, keeps the
    finished searches from the checkpoint and ends with the same leaderboard as an uninterrupted run."""
    from tiny_run import stop_after

    cfg = tiny_config(method="auto", budget=300)
    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    assert tuning.tune(cfg, synth, should_stop=stop_after(polls), checkpoint=ckpt).stopped
    resumed = tuning.tune(cfg, synth, checkpoint=ckpt)

    def figures(board):
        return ([(e.key, e.val_balanced_acc, e.queries, e.val_predictions, e.cv_predictions) for e in board.entries],
                board.chosen)
    assert figures(resumed.leaderboard) == figures(auto_run.leaderboard)
    assert resumed.adapter.w.tolist() == auto_run.adapter.w.tolist()
    assert torch.equal(resumed.adapter.extras["head_weight"], auto_run.adapter.extras["head_weight"])


def test_a_stop_at_once_after_a_resume_keeps_a_working_adapter(synth, tmp_path):
    """What a worker does to keep the best adapter of a failed job: resume from the checkpoint and stop at once.
    The search's best point is relative to its warm start, so the adapter must still be folded into it. (Without
    folds, so that a quick winner is not refitted either and every adapter predicts what its entry says.)"""
    from tiny_run import stop_after

    cfg = tiny_config(method="auto", budget=300, auto_folds=0)
    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    tuning.tune(cfg, synth, should_stop=stop_after(30), checkpoint=ckpt)
    kept = tuning.tune(cfg, synth, should_stop=lambda: True, checkpoint=ckpt)
    assert kept.stopped and kept.leaderboard is not None
    chosen = kept.leaderboard.entry(kept.leaderboard.chosen)
    assert class_logits(kept.adapter, synth.val.features.float()).argmax(1).tolist() == chosen.val_predictions
