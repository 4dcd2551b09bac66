"""Method 'auto': race the cheap candidates, warm-start the forward-only searches from the best of them,
and return the winner by the choice rule (choice.py).

1. Zero-shot, the linear probe and Tip-Adapter (candidates.py): seconds, no query beyond the zero-shot one.
   With `auto_folds` (the default), each one's setting and the choice among them rest on every training and
   validation image, by stratified k-fold cross-validation (folds.py): the choice rule over their out-of-fold
   predictions names the warm start. Each is still fitted on the training images alone for what follows, so
   the validation images stay unseen by the warm start. (`auto_folds=0`, jobs from before it: on validation.)
2. The budget left goes to the searches over the prompt and the linear head (the joint vector of
   tuning/sparse/joint_objective.py without an image-side delta), in equal shares: those of `auto_searches`
   (SharpZO, then CMA-ES by default).
   Each starts from the warm start itself: the objective is anchored on its logits (JointObjective.anchor_on),
   so w = 0 is the probe (or cache) and the search moves the prompt and head from there, instead of starting
   at zero-shot and first rediscovering what the probe knew.
3. The choice rule over the warm start and the searches, on the validation images, picks the adapter; a search's
   solution is folded into the warm start's form (a probe's head absorbs the change of the class embeddings), so
   the adapter file needs nothing new. When the warm start wins, its adapter is refitted with the same setting on
   the training and validation images (with folds: what the cross-validation was for): a refitted probe is still
   a probe, a refitted cache has the validation images among its rows. Its validation figures stay those of the
   fit on the training images, the ones every comparison used (the refit has seen the validation images).

Resume: the cheap candidates are recomputed (deterministic, seconds; the folds are seeded); each finished
search's entry and best point, and where the current one started, are kept in the checkpoint (Run.auto, plain
JSON); the current search resumes through its stage's own checkpoint state.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

from .candidates import Start, cheap_candidates, entry_of
from .choice import choose, reason
from .cmaes import run_stage1
from .folds import pool_of
from .leaderboard import Entry, Leaderboard
from .names import Method
from .stages import Stage
from .zo_sgd import run_stage2


@contextmanager
def spending_cap(obj, cap: int):
    """A search's share: the stages spend 'until the budget is spent', so the budget reads `cap` meanwhile."""
    full, obj.budget = obj.budget, min(cap, obj.budget)
    try:
        yield
    finally:
        obj.budget = full


def _sharpzo(run, started_at: int, cap: int) -> bool:
    cfg, w0 = run.cfg, None
    if run.phase in ("started", Stage.CMAES):
        stage1_cap = started_at + int(cfg.stage1_budget_fraction * (cap - started_at))
        w0 = run_stage1(run, sharpness_aware=True, query_cap=stage1_cap, max_generations=cfg.stage1_generations,
                        patience=cfg.patience)
        if w0 is None:
            return False
    return run_stage2(run, w0, sparse=True)


def _cmaes(run, started_at: int, cap: int) -> bool:
    return run_stage1(run, sharpness_aware=False, query_cap=cap, max_generations=cap + 1, patience=0) is not None


def _zosgd(run, started_at: int, cap: int) -> bool:
    return run_stage2(run, torch.zeros(run.dim, dtype=torch.float64), sparse=False)


SEARCH_RUNS = {Method.SHARPZO: _sharpzo, Method.CMAES: _cmaes, Method.ZOSGD: _zosgd}


def searches_of(cfg) -> dict:
    """{method: its search}, in the order they run (and the choice rule meets them): cfg.auto_searches."""
    return {Method(m): SEARCH_RUNS[Method(m)] for m in cfg.auto_searches.split(",")}


def run_auto(run) -> bool:
    cfg, obj = run.cfg, run.obj
    state = run.auto if run.auto is not None else {"searches": [], "bests": {}, "current": None}
    run.auto = state
    # Not stoppable (seconds): a run stopped or resumed at any point needs them to adopt its best candidate.
    pool = pool_of(obj, cfg.auto_folds, cfg.seed) if cfg.auto_folds else None
    starts = cheap_candidates(obj, cfg, pool)
    labels, K = obj.val_y.cpu().tolist(), obj.learner.num_classes
    cheap = [s.entry for s in starts]
    picked, cheap_challenges = choose(cheap, labels, K) if pool is None else choose(cheap, pool.labels, K, pool.k)
    warm = state.setdefault("warm_start", picked)
    start = next(s for s in starts if s.entry.key == warm)
    obj.anchor_on(start.logits_of)

    searches = searches_of(cfg)
    share = (cfg.budget - obj.queries) // len(searches) if state["current"] is None else state["share"]
    state["share"] = share
    searched = [Entry.from_dict(d) for d in state["searches"]]
    finished = True
    for i, (method, search) in enumerate(searches.items()):
        key = f"{method.value}@{warm}"
        if any(e.key == key for e in searched):
            continue
        if state["current"] != key:  # a fresh search: its own best, its own stage state
            state["current"] = key
            state["started"] = {"queries": obj.queries, "elapsed_s": run.elapsed_s}
            run.best, run.best_features = None, None
            run.save("started", {})
        began = state["started"]
        cap = cfg.budget if i == len(searches) - 1 else began["queries"] + share
        with spending_cap(obj, cap):
            finished = search(run, began["queries"], cap)
        entry = _search_entry(run, key, method, warm, began)
        if entry is not None:
            searched.append(entry)
        if not finished:
            break
        if entry is not None:
            state["searches"].append(entry.to_dict(with_predictions=True))
            state["bests"][key] = run.best
        run.save(run.phase, run.phase_state)

    entries = cheap + searched
    chosen, search_challenges = choose([start.entry] + searched, labels, K)
    challenges = cheap_challenges + search_challenges
    why = reason(entries, chosen, challenges)
    pooled = len(pool.y) if pool is not None else None
    if chosen == warm and start.refit is not None:
        why += f" Its adapter was then fitted again, with the same setting, on all {pooled} training and validation " \
               "images."
    run.leaderboard = Leaderboard(entries, chosen, len(labels), challenges, why, warm_start=warm,
                                  folds=pool.k if pool is not None else None, fold_images=pooled)
    _adopt(run, chosen, start, starts, state)
    if finished:
        state["leaderboard"] = run.leaderboard.to_dict(with_predictions=True)
    return finished


def _search_entry(run, key: str, method: Method, warm: str, began: dict) -> Entry | None:
    """The entry of the search's best point (None when it evaluated none), in the anchored objective."""
    if run.best is None:
        return None
    T = _features(run, run.best)
    return entry_of(run.obj, key, method.value, run.obj.anchored_logits(T), warm_start=warm,
                    queries=run.obj.queries - began["queries"], seconds=run.elapsed_s - began["elapsed_s"])


def _features(run, best: dict) -> torch.Tensor:
    """Class embeddings at the best point: kept from its evaluation, or recomputed after a resume (paid for then)."""
    if run.best_features is not None and run.best is best:
        return run.best_features.to(run.obj.val_z.device)
    with torch.no_grad():
        w = torch.tensor(best["w"], dtype=torch.float32)[None]
        return run.obj.class_embeddings(w)[0].to(run.obj.val_z.device)


def _adopt(run, chosen: str, start: Start, starts: list[Start], state: dict) -> None:
    """run.best becomes the chosen candidate, in the form the adapter file stores."""
    obj = run.obj
    cheap = next((s for s in starts if s.entry.key == chosen), None)
    if cheap is not None:  # the figures of its fit on the training images, the adapter of its refit
        ev = obj.evaluate_features(obj.anchor.E0, logits_of=cheap.logits_of)
        run.best = {"w": [0.0] * run.dim, "val_acc": ev.val_acc, "val_loss": ev.val_loss,
                    "val_balanced_acc": ev.val_balanced_acc, "train_loss": ev.train_loss, "step": 0, "P": None,
                    **(cheap.refit() if cheap.refit is not None else cheap.extras)}
        run.best_features = obj.anchor.E0.cpu()
        return
    best = state["bests"].get(chosen, run.best)  # the current (stopped) search's best is run.best itself
    T = _features(run, best)
    run.best = dict(best)
    head = start.extras.get("head")
    if head is not None:  # the probe's head absorbs the change of the class embeddings (anchored logits)
        W = torch.tensor(head["weight"], dtype=torch.float32).view(len(head["bias"]), -1)
        W = W + obj.scale * (T - obj.anchor.E0).cpu()
        run.best["head"] = {**head, "weight": W.flatten().tolist()}
    if "cache" in start.extras:
        run.best["cache"] = start.extras["cache"]
    run.best_features = T.cpu()
