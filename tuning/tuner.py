"""`tune`: the one entry point. Loads the backbone, builds the prompt learner and the budgeted
objective, runs the chosen method (resuming from a checkpoint when one holds state) and returns
the best adapter by validation accuracy."""
from __future__ import annotations

import datetime as _dt
import resource
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .adapter import Adapter, format_version
from .backbones.loader import Backbone, load_backbone
from .backbones.precision import precision_label
from .backbones.prompts import PromptLearner
from .checkpoint import Checkpoint
from .config import TuneConfig
from .data import FewShotData
from .errors import DataError
from .methods import Method, MetricPointDict, Stage
from .methods.leaderboard import Leaderboard
from .methods.registry import run_method
from .methods.search_size import covariance_model
from .methods.second_opinion import single_method_board
from .methods.tip_adapter import CACHE_OVER_TRAINING_AND_VALIDATION, add_cache
from .objective import Objective
from .quality import beats_zero_shot
from .runner import Run
from .sparse import setup as sparse_setup
from .sparse.joint_objective import JointObjective
from .version import __version__

CMAES_METHODS = (Method.AUTO, Method.SHARPZO, Method.CMAES)


@dataclass
class TuneResult:
    adapter: Adapter
    queries_used: int
    best_val_acc: float
    stopped: bool
    elapsed_s: float
    peak_memory_bytes: int
    history: list[MetricPointDict] = field(default_factory=list)
    zero_shot_val_acc: float | None = None
    best_val_balanced_acc: float | None = None
    zero_shot_val_balanced_acc: float | None = None
    leaderboard: Leaderboard | None = None  # the candidates weighed on validation and why the adapter won

    @property
    def beats_zero_shot(self) -> bool:
        """Do no harm: True only when the adapter beats the untuned model on validation."""
        return beats_zero_shot(self.best_val_balanced_acc, self.zero_shot_val_balanced_acc)


def tune(config: TuneConfig | dict, data: FewShotData, *,
         on_metrics: Callable[[MetricPointDict], Any] | None = None, should_stop: Callable[[], bool] | None = None,
         checkpoint: Checkpoint | None = None, backbone: Backbone | None = None) -> TuneResult:
    """Tunes an adapter for `data` (features encoded with `backbone`, loaded from the config's id when not
    given) within the config's query budget. `on_metrics` gets each metric point, `should_stop` is asked
    between steps (a stopped run returns the best so far), `checkpoint` resumes a run and keeps its state."""
    cfg = config if isinstance(config, TuneConfig) else TuneConfig.from_dict(config)
    cfg.validate()
    bb = backbone if backbone is not None else load_backbone(cfg.backbone, device=cfg.device)
    if data.backbone_id is not None and data.backbone_id != bb.id:
        raise DataError(f"The image features were computed with backbone '{data.backbone_id}' but the job uses "
                        f"'{bb.id}'; load the data again with the job's backbone.")
    if bb.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(bb.device)
    torch.manual_seed(cfg.seed)
    learner = prompt_learner(cfg, bb, data)
    tunes_joint = cfg.adapt == "sparse" or cfg.method == Method.AUTO  # auto tunes the prompt and a linear head
    joint = sparse_setup.joint_objective(cfg, learner, data, cfg.budget) if tunes_joint else None
    obj = joint if joint is not None else Objective(learner, data, cfg.budget)
    run = Run(cfg, obj, on_metrics=on_metrics, should_stop=should_stop, checkpoint=checkpoint,
              backbone_sha256=bb.checkpoint_sha256)
    if cfg.method in CMAES_METHODS:  # an explicit 'full' covariance too large for memory: refused before any query
        covariance_model(cfg.cma_covariance, run.dim)
    state = checkpoint.load() if checkpoint is not None else None
    if state:
        run.restore(state)

    if run.phase == "start":  # zero-shot (w = 0): the baseline and the first candidate adapter
        zeros = torch.zeros(run.dim, dtype=torch.float64)
        ev = obj.evaluate(zeros)
        run.zero_shot = {"train_loss": ev.train_loss, "val_acc": ev.val_acc, "val_loss": ev.val_loss,
                         "val_balanced_acc": ev.val_balanced_acc}
        run.consider(zeros, ev)
        run.emit(Stage.ZERO_SHOT, ev)
        run.save("started", {})
    allocation = sparse_setup.place_vision_delta(run, joint, data) if joint is not None else None
    if run.phase != "done" and run_method(run) and not run.stopped:
        run.save("done", {})
    if cfg.method == Method.TIP_ADAPTER or cfg.tip_cache:  # no query: reads the cached features only
        add_cache(run, _best_text_features(run, learner))
    kept_zero_shot = _keep_zero_shot_unless_better(run)
    leaderboard = _leaderboard(run, learner)
    if kept_zero_shot and leaderboard is not None and cfg.method == Method.AUTO:
        leaderboard.chosen = Method.ZEROSHOT.value  # the board says what the adapter file holds
        leaderboard.reason += (" On the validation images alone it did not beat zero-shot, so the zero-shot model "
                               "is returned (do no harm).")
    adapter = _build_adapter(run, learner, bb, data, allocation)
    if leaderboard is not None:
        adapter.card["leaderboard"] = leaderboard.to_dict()
    return TuneResult(adapter=adapter, queries_used=obj.queries, leaderboard=leaderboard,
                      best_val_acc=run.chosen["val_acc"], stopped=run.stopped, elapsed_s=run.elapsed_s,
                      peak_memory_bytes=peak_memory_bytes(bb.device), history=list(run.history),
                      zero_shot_val_acc=run.zero_shot["val_acc"],
                      best_val_balanced_acc=run.chosen.get("val_balanced_acc"),
                      zero_shot_val_balanced_acc=run.zero_shot.get("val_balanced_acc"))


def prompt_learner(cfg: TuneConfig, bb: Backbone, data: FewShotData) -> PromptLearner:
    """The prompt learner a run of `cfg` tunes (a worker also times its queries with it when it starts)."""
    return PromptLearner(bb, data.class_names, ctx_init=cfg.ctx_init, intrinsic_dim=cfg.intrinsic_dim,
                         proj_seed=cfg.seed, proj_scale=cfg.proj_scale, chunk_rows=cfg.text_batch_size,
                         precision=cfg.precision, cuda_graphs=cfg.cuda_graphs)


def _keep_zero_shot_unless_better(run: Run) -> bool:
    """Do no harm: an adapter that does not beat zero-shot on validation (a tie with a lower loss
    included) is replaced by the zero-shot prompts themselves (w = 0); True when it was. (Method 'auto' can
    meet this only where its quick candidates were chosen by k-fold over more images than validation.)"""
    zs, best = run.zero_shot, run.chosen
    is_zero_shot = not any(best["w"]) and not any(best.get(k) for k in ("P", "head", "cache"))
    if is_zero_shot or beats_zero_shot(best.get("val_balanced_acc"), zs.get("val_balanced_acc")):
        return False
    run.best = {"w": [0.0] * len(best["w"]), "val_acc": zs["val_acc"], "val_loss": zs["val_loss"],
                "val_balanced_acc": zs.get("val_balanced_acc"), "train_loss": zs["train_loss"], "step": 0, "P": None}
    run.best_features = None  # recomputed from the zero-shot context when the adapter is built
    return True


def _leaderboard(run: Run, learner: PromptLearner) -> Leaderboard | None:
    """Method 'auto': the one it chose by (kept in the checkpoint once finished). A method that spends queries:
    its adapter beside the cheap candidates (seconds, no query), so a cheaper one that did as well is named."""
    if run.cfg.method == Method.AUTO:
        if run.leaderboard is None and run.auto and run.auto.get("leaderboard"):  # resumed after it finished
            run.leaderboard = Leaderboard.from_dict(run.auto["leaderboard"])
        return run.leaderboard
    if not Method(run.cfg.method).spends_queries or run.stopped:
        return None
    return single_method_board(run, _best_text_features(run, learner))


def peak_memory_bytes(device: torch.device) -> int:
    """CUDA: peak allocated by torch on the device since the run started. CPU: the process's peak
    resident set size (includes the backbone and everything before the run)."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _best_context(run: Run, learner: PromptLearner) -> torch.Tensor:
    """The chosen context P (m, width) on the CPU."""
    best = run.chosen
    if best.get("P") is not None:
        return torch.tensor(best["P"], dtype=torch.float32).view(learner.m, learner.width)
    with torch.no_grad():
        # adapt='sparse': the prompt part
        w = torch.tensor(best["w"], dtype=torch.float32)[None, :run.cfg.intrinsic_dim]
        return learner.contexts(w)[0].cpu()


def _best_text_features(run: Run, learner: PromptLearner) -> torch.Tensor:
    """(K, D) text features of the chosen context. After a resume they are recomputed: the features of
    the chosen w were computed (and paid for) before."""
    if run.best_features is None and isinstance(run.obj, JointObjective):  # text features + the linear head
        run.best_features = run.obj.class_embeddings(torch.tensor(run.chosen["w"], dtype=torch.float32)[None])[0].cpu()
    elif run.best_features is None:
        P = _best_context(run, learner)
        run.best_features = learner.features_from_contexts(P.to(learner.device)[None])[0].cpu()
    return run.best_features


def _extras(best: dict, data, card: dict) -> dict[str, torch.Tensor]:
    """The linear head and the Tip-Adapter cache, when the run chose them (see tuning/adapter.py)."""
    extras = {}
    head = best.get("head")
    if head is not None:
        card["head"] = "linear"
        extras["head_bias"] = torch.tensor(head["bias"], dtype=torch.float32)
        extras["head_weight"] = torch.tensor(head["weight"], dtype=torch.float32).view(len(head["bias"]), -1)
    if best.get("cache") is not None:
        card["cache"] = dict(best["cache"])
        refitted = best["cache"].get("keys") == CACHE_OVER_TRAINING_AND_VALIDATION
        rows = [data.train, data.val] if refitted else [data.train]
        extras["cache_keys"] = torch.cat([split.features for split in rows]).float()
        extras["cache_values"] = torch.nn.functional.one_hot(torch.cat([split.labels for split in rows]),
                                                             len(data.class_names)).float()
    return extras


def _build_adapter(run: Run, learner: PromptLearner, bb, data, allocation: dict | None) -> Adapter:
    cfg, best = run.cfg, run.chosen
    w = torch.tensor(best["w"], dtype=torch.float32)
    P = _best_context(run, learner)
    T = _best_text_features(run, learner)
    card = {
        "tuning_version": __version__,
        "backbone_id": bb.id,
        "backbone_sha256": bb.checkpoint_sha256,
        **({"backbone_loading": bb.spec.to_card()} if bb.spec is not None else {}),
        "class_names": list(data.class_names),
        "prompt_template": f"[learned context: {cfg.ctx_init!r}] {{class}}.",
        "ctx_init": cfg.ctx_init,
        "n_ctx": learner.m,
        "context_width": learner.width,
        "embed_dim": int(T.shape[1]),
        "logit_scale": learner.logit_scale,
        "projection": {"seed": cfg.seed, "shape": [learner.m * learner.width, cfg.intrinsic_dim],
                       "std": learner.proj_std, "generator": "torch.Generator(cpu).manual_seed(seed); randn * std"},
        "method": cfg.method,
        "config": cfg.to_dict(),
        "dataset_hash": data.dataset_hash,
        "metrics": {"zero_shot_val_acc": run.zero_shot["val_acc"], "best_val_acc": best["val_acc"],
                    "zero_shot_val_balanced_acc": run.zero_shot.get("val_balanced_acc"),
                    "best_val_balanced_acc": best.get("val_balanced_acc"),
                    "better_than_zero_shot": beats_zero_shot(best.get("val_balanced_acc"),
                                                             run.zero_shot.get("val_balanced_acc")),
                    "best_val_loss": best["val_loss"], "best_step": best["step"],
                    "queries_used": run.obj.queries, "elapsed_s": round(run.elapsed_s, 3), "stopped": run.stopped,
                    "query_precision": precision_label(cfg.precision, bb)},
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    extras = _extras(best, data, card)
    if allocation is not None and isinstance(run.obj, JointObjective):
        extras.update(sparse_setup.adapter_parts(run.obj, w, card, allocation))
    card["format_version"] = format_version(extras)
    return Adapter(card, w, P, T.float().cpu(), extras)
