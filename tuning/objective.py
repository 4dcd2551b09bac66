"""The objective L(w) on cached image features, with exact query accounting.

One query = the K class prompts through the text tower at one w (then a cheap product with the
cached image features). Every loss or validation evaluation goes through `Objective`, which
refuses to go past the budget, so no method can spend more than it was given.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .backbones.precision import exact_fp32
from .errors import BudgetExceeded
from .quality import balanced_accuracy_of


@dataclass
class Evaluated:
    train_loss: float
    val_acc: float
    val_loss: float
    text_features: torch.Tensor  # (K, D) on the CPU, kept for the adapter
    val_balanced_acc: float | None = None  # mean per-class recall: what chooses the adapter
    # adapt='sparse' only: how much of the backbone this w changes (JointObjective.backbone_change)
    params_changed: int | None = None  # image-tower parameters whose value differs from the backbone's
    backbone_sparsity: float | None = None  # share of the image tower's parameters left as they are


class Objective:
    def __init__(self, learner, data, budget: int):
        self.learner = learner
        dev = learner.device
        self.train_z = data.train.features.to(dev, torch.float32)
        self.train_y = data.train.labels.to(dev, torch.long)
        self.val_z = data.val.features.to(dev, torch.float32)
        self.val_y = data.val.labels.to(dev, torch.long)
        self.budget = int(budget)
        self.queries = 0
        self.scale = learner.logit_scale

    @property
    def remaining(self) -> int:
        return self.budget - self.queries

    def charge(self, n: int) -> None:
        if self.queries + n > self.budget:
            raise BudgetExceeded(f"{n} more queries would exceed the budget of {self.budget} "
                                 f"({self.queries} used).")
        self.queries += n

    def _ce(self, T: torch.Tensor, z: torch.Tensor, y: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        """T: (n, K, D) -> mean cross-entropy per w, shape (n,). Images go in slices so the logits
        never exceed ~4M numbers: with K = 1000 classes the loss would otherwise outweigh the tower.
        base: (N, K) logits added to every w's (a warm start's, see JointObjective.anchor_on)."""
        n, K = T.shape[0], T.shape[1]
        rows = max(1, (1 << 22) // (n * K))
        total = torch.zeros(n, device=T.device)
        for s in range(0, z.shape[0], rows):
            logits = self.scale * torch.einsum("jd,nkd->njk", z[s:s + rows], T)
            if base is not None:
                logits = logits + base[s:s + rows]
            ys = y[s:s + rows].expand(n, -1)
            total += F.cross_entropy(logits.transpose(1, 2), ys, reduction="none").sum(1)
        return total / z.shape[0]

    def losses(self, W: torch.Tensor) -> torch.Tensor:
        """Training loss at each row of W (n, d): n queries. Returns float64 on the CPU."""
        W = torch.as_tensor(W, dtype=torch.float32)
        if W.dim() == 1:
            W = W[None]
        self.charge(W.shape[0])
        # Several w per chunk keeps batches large; one w per chunk once K alone fills a chunk.
        per_chunk = max(1, self.learner.chunk_rows // self.learner.num_classes)
        out = []
        with exact_fp32(self.learner.device):  # differences of these losses are the signal
            for s in range(0, W.shape[0], per_chunk):
                T = self.learner.text_features(W[s:s + per_chunk])
                out.append(self._ce(T, self.train_z, self.train_y))
        return torch.cat(out).double().cpu()

    def evaluate(self, w: torch.Tensor) -> Evaluated:
        """Training loss, validation accuracy and loss at one w: 1 query (one text forward)."""
        self.charge(1)
        with exact_fp32(self.learner.device):
            T = self.learner.text_features(torch.as_tensor(w, dtype=torch.float32)[None])
        return self.evaluate_features(T[0])

    def evaluate_features(self, T: torch.Tensor, logits_of=None, train_z: torch.Tensor | None = None,
                          val_z: torch.Tensor | None = None) -> Evaluated:
        """Metrics of class text features T (K, D). `logits_of(z) -> (N, K)` replaces the text logits
        scale * z @ T.T (a linear probe, or a cache added on top); T is then only kept for the adapter.
        train_z / val_z: the image features when the image tower changed (adapt='sparse')."""
        train_z = self.train_z if train_z is None else train_z
        val_z = self.val_z if val_z is None else val_z
        with torch.no_grad(), exact_fp32(self.learner.device):
            T = T.detach().float()
            if logits_of is None:
                train_loss = float(self._ce(T[None], train_z, self.train_y)[0])
                val_logits = self.scale * val_z @ T.T
            else:
                train_loss = float(F.cross_entropy(logits_of(train_z), self.train_y))
                val_logits = logits_of(val_z)
            val_loss = float(F.cross_entropy(val_logits, self.val_y))
            val_pred = val_logits.argmax(1)
            val_acc = float((val_pred == self.val_y).float().mean())
            val_bacc = balanced_accuracy_of(self.val_y.tolist(), val_pred.tolist(), T.shape[0])
        return Evaluated(train_loss, val_acc, val_loss, T.cpu(), val_bacc)
