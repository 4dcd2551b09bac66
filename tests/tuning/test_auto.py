"""Method 'auto': the choice rule in both directions, the warm start, and what the run returns."""
import pytest
import torch
from tiny_run import tiny_config

import tuning
from tuning.adapter import class_logits
from tuning.methods.candidates import cheap_candidates
from tuning.methods.choice import beats, cheaper_alternative, choose, paired_difference
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
    board = auto_run.leaderboard
    keys = [e.key for e in board.entries]
    assert keys[:2] == ["zeroshot", "linear_probe"]
    assert {f"sharpzo@{board.warm_start}", f"cmaes@{board.warm_start}"} <= set(keys)
    chosen, warm = board.entry(board.chosen), board.entry(board.warm_start)
    assert chosen.val_balanced_acc >= warm.val_balanced_acc
    assert auto_run.best_val_balanced_acc == pytest.approx(chosen.val_balanced_acc)
    assert auto_run.queries_used <= 300 and board.validation_images == 40 and board.reason
    assert sum(e.queries for e in board.entries if "@" in e.key) == auto_run.queries_used - 1


def test_the_auto_adapter_predicts_what_its_leaderboard_entry_says(auto_run, synth):
    """The search's change is folded into the adapter (a probe's head absorbs it): the saved adapter scores
    on validation exactly what the chosen entry scored there."""
    adapter = auto_run.adapter
    predictions = class_logits(adapter, synth.val.features.float()).argmax(1).tolist()
    chosen = auto_run.leaderboard.entry(auto_run.leaderboard.chosen)
    assert predictions == chosen.val_predictions
    assert adapter.card["method"] == "auto"
    card_board = Leaderboard.from_dict(adapter.card["leaderboard"])
    assert card_board.chosen == chosen.key and card_board.entries[0].val_predictions == []


def test_every_searched_candidate_folds_into_a_working_adapter(synth):
    """Each warm start (zero-shot, probe, cache) with a search on top gives an adapter whose predictions
    match the search's entry; forced by making the searches the only candidates that can win."""
    from tuning.methods import auto as auto_module

    for warm in ("zeroshot", "linear_probe", "tip_adapter"):
        original = auto_module.choose

        def rigged(entries, labels, K, warm=warm):
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
        return [(e.key, e.val_balanced_acc, e.queries, e.val_predictions) for e in board.entries], board.chosen
    assert figures(resumed.leaderboard) == figures(auto_run.leaderboard)
    assert resumed.adapter.w.tolist() == auto_run.adapter.w.tolist()


def test_a_stop_at_once_after_a_resume_keeps_a_working_adapter(synth, tmp_path):
    """What a worker does to keep the best adapter of a failed job: resume from the checkpoint and stop at once.
    The search's best point is relative to its warm start, so the adapter must still be folded into it."""
    from tiny_run import stop_after

    cfg = tiny_config(method="auto", budget=300)
    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    tuning.tune(cfg, synth, should_stop=stop_after(30), checkpoint=ckpt)
    kept = tuning.tune(cfg, synth, should_stop=lambda: True, checkpoint=ckpt)
    assert kept.stopped and kept.leaderboard is not None
    chosen = kept.leaderboard.entry(kept.leaderboard.chosen)
    assert class_logits(kept.adapter, synth.val.features.float()).argmax(1).tolist() == chosen.val_predictions
