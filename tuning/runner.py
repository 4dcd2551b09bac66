"""Bookkeeping shared by every method: metrics, best-so-far by validation, stop flag, checkpoints.

The validation split alone chooses the best adapter and drives the stage switch; the test split
never reaches this module.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import torch

from .demo_backbone.identify import sha256_before_versions
from .errors import CheckpointMismatch
from .methods.stages import MetricPointDict, Stage
from .objective import Evaluated, Objective

STATE_VERSION = 1


class Run:
    def __init__(self, cfg, obj: Objective, *, on_metrics: Callable[[dict], Any] | None = None,
                 should_stop: Callable[[], bool] | None = None, checkpoint=None,
                 backbone_sha256: str | None = None):
        self.cfg = cfg
        self.backbone_sha256 = backbone_sha256  # the weights this run's values were found with
        self.obj = obj
        self.on_metrics = on_metrics
        self.should_stop = should_stop
        self.checkpoint = checkpoint
        self.history: list[MetricPointDict] = []
        space = getattr(obj, "space", None)  # adapt='sparse': the joint vector's layout
        self.dim = space.dim if space is not None else cfg.intrinsic_dim  # length of w
        self.sensitivity: dict | None = None  # adapt='sparse': probe scores per image group (kept in checkpoints)
        self.step = 0
        self.best: dict | None = None  # w (list), val_acc, val_loss, train_loss, step
        self.best_features: torch.Tensor | None = None
        self.zero_shot: dict | None = None
        self.stopped = False
        self.phase = "start"
        self.phase_state: dict = {}
        self.auto: dict | None = None  # method 'auto': finished searches, the warm start (kept in checkpoints)
        self.leaderboard = None  # the candidates weighed and the choice (methods/leaderboard.py)
        self._elapsed_before = 0.0
        self._t0 = time.perf_counter()

    # ------------------------------------------------------------------ time, stop, best
    @property
    def elapsed_s(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._t0

    def stop_requested(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
        return self.stopped

    def consider(self, w: torch.Tensor, ev: Evaluated, P: torch.Tensor | None = None, head: dict | None = None) -> bool:
        """Keep the w with the best balanced validation accuracy (mean per-class recall; ties: lower
        validation loss). P is given only when the context is not P0 + A w (CoOp on plain context vectors);
        head (weight, bias as lists) only for a linear probe, whose logits replace the text ones."""
        b = self.best
        score = _score(ev.val_balanced_acc, ev.val_acc)
        best = None if b is None else _score(b.get("val_balanced_acc"), b["val_acc"])
        if b is None or score > best or (score == best and ev.val_loss < b["val_loss"]):
            self.best = {"w": [float(x) for x in w.double()], "val_acc": ev.val_acc, "val_loss": ev.val_loss,
                         "val_balanced_acc": ev.val_balanced_acc,
                         "train_loss": ev.train_loss, "step": self.step,
                         "P": None if P is None else P.flatten().tolist(), "head": head}
            self.best_features = ev.text_features
            return True
        return False

    def emit(self, stage: Stage, ev: Evaluated | None, *, train_loss: float | None = None,
             sharpness: float | None = None, sparsity: float | None = None) -> MetricPointDict:
        """One metric point. `sparsity` is the share of w's coordinates the stage-2 mask freezes; with
        adapt='sparse' the point carries the backbone-level figures instead (what a user means by an
        adapter's sparsity): the share of the image tower's parameters left unchanged, and how many changed.
        `stage_started` is True on the first point of a stage, so a reader sees where a stage switch
        happened without comparing stage names (a resumed run continues the stage its history ends in)."""
        params_changed = ev.params_changed if ev is not None else None
        if params_changed is not None:
            sparsity = ev.backbone_sparsity
        stage = Stage(stage)
        m = MetricPointDict(step=self.step, stage=stage.value, stage_started=stage != self._current_stage(),
                        queries=self.obj.queries, train_loss=ev.train_loss if ev is not None else train_loss,
                        val_acc=ev.val_acc if ev is not None else None, sharpness=sharpness, sparsity=sparsity,
                        params_changed=params_changed, elapsed_s=round(self.elapsed_s, 4))
        self.history.append(m)
        if self.on_metrics is not None:
            self.on_metrics(MetricPointDict(**m))
        return m

    def _current_stage(self) -> Stage | str | None:
        """The stage of the last point emitted (restored with the history after a resume)."""
        return Stage.read(self.history[-1]["stage"]) if self.history else None

    # ------------------------------------------------------------------ checkpoints
    def save(self, phase: str, phase_state: dict) -> None:
        self.phase, self.phase_state = phase, phase_state
        if self.checkpoint is not None:
            self.checkpoint.save(self.to_state())

    def to_state(self) -> dict:
        return {"version": STATE_VERSION, "config": self.cfg.to_dict(), "queries": self.obj.queries,
                "step": self.step, "elapsed_s": self.elapsed_s, "history": self.history, "best": self.best,
                "zero_shot": self.zero_shot, "phase": self.phase, "phase_state": self.phase_state,
                "sensitivity": self.sensitivity, "backbone_sha256": self.backbone_sha256, "auto": self.auto}

    def restore(self, state: dict) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"The checkpoint has state version {state.get('version')}, expected {STATE_VERSION}.")
        now = self.cfg.to_dict()
        saved = type(self.cfg).from_record(state["config"]).to_dict()
        saved.pop("device", None), now.pop("device", None)  # a job may resume on another device
        if saved != now:
            changed = sorted(k for k in now if saved.get(k) != now[k])
            raise CheckpointMismatch(f"The checkpoint belongs to a run with other settings ({', '.join(changed)}); "
                                     "resume with the same settings or start without the checkpoint.")
        self._check_same_weights(state)
        self.obj.queries = int(state["queries"])
        self.step = int(state["step"])
        self._elapsed_before = float(state["elapsed_s"])
        self.history = list(state["history"])
        self.best = state["best"]
        self.zero_shot = state["zero_shot"]
        self.phase = Stage.read(state["phase"])  # a checkpoint from before Stage names its stage 'stage1' or 'stage2'
        self.phase_state = state["phase_state"]
        self.sensitivity = state.get("sensitivity")
        self.auto = state.get("auto")

    def _check_same_weights(self, state: dict) -> None:
        """The same backbone id may have other weights by now (the demo backbone was renewed under
        "demo"): the losses, the best point and CMA-ES's memory found with the old weights mean
        nothing on the new ones, and a sparse adapter's layout may not even fit them."""
        saved = state["backbone_sha256"] if "backbone_sha256" in state else sha256_before_versions(self.cfg.backbone)
        if saved and self.backbone_sha256 and saved != self.backbone_sha256:
            raise CheckpointMismatch(
                f"The checkpoint was written on backbone '{self.cfg.backbone}' with weights sha256 {saved[:12]}..., "
                f"but that backbone now has weights sha256 {self.backbone_sha256[:12]}... (it was updated in "
                "between). What the tuner found does not carry over to other weights, so no run resumes from it.")


def _score(balanced: float | None, plain: float) -> float:
    """A checkpoint written before balanced accuracy was kept has only the plain accuracy."""
    return plain if balanced is None else balanced
