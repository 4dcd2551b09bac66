"""adapt='sparse': the loss over a joint vector w = [w_prompt | w_head | w_vision].

- w_prompt (intrinsic_dim): the shared text context, P = P0 + reshape(A w_prompt), as in 'prompt' mode.
- w_head (K*K, or K*16 with many classes): a linear head. Class embedding k = t_k + head_scale * sum_j C_kj p_j
  with C = reshape(w_head) and p_j class j's discriminant direction from the training features
  (`discriminant_directions`). At w_head = 0 it is the text feature, so zero-shot stays the starting point.
  Why these directions: a linear classifier fitted to the training features with an L2 penalty lies in
  their span (representer theorem), and a K*K vector can reach K directions of it; a random K*D subspace
  of the same size would mostly miss it. Plain class means were measured first: the best head in their span
  (fitted by backprop, NEU-DET seed 0) reached 64.6 % validation accuracy, in the whitened directions
  79-83 %, because the demo's image features of all classes are nearly parallel. This group needs no text
  forward. Above 16 classes (head_form 'auto', methods/search_size.py) C has r = 16 columns: class k moves
  along its own p_k and the r - 1 leading directions shared by all (`leading_directions`), so the head
  grows like K, not K^2. The adapter stores the head's effect (K x D, or folded into a probe's weight by
  method 'auto'), never C, so its file does not depend on the form.
- w_vision (vision_dim): the sparse backbone delta, scatter(indices, A_v w_vision) (vision_delta.py). Its
  image part runs on cached activations (image_reuse.py): a query recomputes only the tuned blocks. Its
  text part (text_groups.py: class-specific contexts, text-tower tensors) changes the class embeddings,
  which are then computed per candidate.

One query is still one evaluation of the training loss at one w; `Objective.charge` keeps the budget.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..backbones.precision import exact_fp32
from ..objective import Evaluated, Objective
from .param_groups import vision_parameter_count
from .text_groups import split_change, text_features_with_change
from .vision_delta import overrides

SHRINKAGE = 1.0  # within-class covariance + SHRINKAGE * (its mean variance) * I: 96 images, 256+ dimensions


def discriminant_directions(z: torch.Tensor, y: torch.Tensor, K: int) -> torch.Tensor:
    """(K, D) unit directions S^-1 (mu_k - mu): the class means, centred and whitened by the shrunk
    within-class covariance S of the training features (Fisher's discriminant directions)."""
    means = torch.stack([z[y == k].mean(0) for k in range(K)])
    resid = z - means[y]
    S = resid.T @ resid / max(1, len(z))
    spread = float(S.diagonal().mean())  # 0 with one shot a class: no within-class spread, so no whitening
    S = S + SHRINKAGE * (spread if spread > 0 else 1.0) * torch.eye(S.shape[0])
    return F.normalize(torch.linalg.solve(S, (means - means.mean(0)).T).T, dim=-1)


def leading_directions(directions: torch.Tensor, n: int) -> torch.Tensor:
    """(n, D) orthonormal directions along which the rows of `directions` (K, D) vary most (their leading
    right singular vectors); rows of zeros where they span fewer than n."""
    _, _, Vh = torch.linalg.svd(directions.double(), full_matrices=False)
    out = torch.zeros(n, directions.shape[1], dtype=directions.dtype)
    out[:min(n, len(Vh))] = Vh[:n].to(directions.dtype)
    return out


@dataclasses.dataclass
class Anchor:
    """A warm start's solution: its logits function, the class embeddings at w = 0, and its logits on the
    training features (computed once: every query adds them)."""
    logits_of: Callable[[torch.Tensor], torch.Tensor]
    E0: torch.Tensor
    train: torch.Tensor


class JointSpace:
    """Where each group's coordinates sit in the joint vector, and what they do."""

    def __init__(self, prompt_dim: int, num_classes: int, train_features, train_labels, *, head_scale: float,
                 vision_dim: int, head_directions: int | None = None):
        """head_directions: per class embedding (methods/search_size.py); None or K: the K x K head."""
        K = num_classes
        self.directions = K if head_directions is None else head_directions
        self.prompt = slice(0, prompt_dim)
        self.head = slice(prompt_dim, prompt_dim + K * self.directions)
        self.vision = slice(self.head.stop, self.head.stop + vision_dim)
        self.dim = self.vision.stop
        self.num_classes = K
        self.prototypes = discriminant_directions(train_features.float(), train_labels, K)  # (K, D)
        # own + shared: column 0 of C moves class k along its own p_k, columns 1.. along these (r - 1, D)
        self.shared = None if self.directions == K else leading_directions(self.prototypes, self.directions - 1)
        self.head_scale = head_scale

    def dims(self) -> dict[str, int]:
        return {g: s.stop - s.start for g, s in (("prompt", self.prompt), ("head", self.head), ("vision", self.vision))}

    def head_delta(self, W: torch.Tensor) -> torch.Tensor:
        """W (n, dim) -> (n, K, D) added to the class embeddings."""
        C = W[:, self.head].float().view(-1, self.num_classes, self.directions)
        P = self.prototypes.to(C.device)
        if self.shared is None:
            return self.head_scale * C @ P
        return self.head_scale * (C[..., :1] * P + C[..., 1:] @ self.shared.to(C.device))


class JointObjective(Objective):
    def __init__(self, learner, data, budget: int, space: JointSpace, *, delta=None, towers=None):
        """delta: a VisionDelta (None when no image parameter is tuned); towers: (train, val) CachedTower."""
        super().__init__(learner, data, budget)
        self.space = space
        self.delta = delta
        self.towers = towers
        self._text_memo: tuple[bytes, torch.Tensor] | None = None
        self._image_parameters: int | None = None
        self.anchor: Anchor | None = None

    def anchor_on(self, logits_of) -> None:
        """Warm start: from now on the logits at w are logits_of(z) + scale * z . (E(w) - E(0)), E the class
        embeddings, so w = 0 is exactly the given solution (a linear probe, a cache) and the search moves the
        prompt and the head from there. Only without an image-side delta (the image features stay cached)."""
        if self.towers is not None:
            raise ValueError("A warm start needs cached image features: no image-side delta.")
        with torch.no_grad(), exact_fp32(self.learner.device):  # E(0): the zero-shot features, paid for already
            E0 = self.class_embeddings(torch.zeros(1, self.space.dim))[0]
            self.anchor = Anchor(logits_of, E0, logits_of(self.train_z))

    def anchored_logits(self, T: torch.Tensor):
        """z -> logits of class embeddings T (K, D) under the anchor."""
        a = self.anchor
        if a is None:
            raise RuntimeError("anchored_logits needs a warm start (set_anchor) first.")
        return lambda z: a.logits_of(z) + self.scale * z @ (T - a.E0).T

    @property
    def model(self):
        return self.learner.backbone.model

    @property
    def image_parameters(self) -> int:
        if self._image_parameters is None:
            self._image_parameters = vision_parameter_count(self.model)
        return self._image_parameters

    def backbone_change(self, w: torch.Tensor) -> tuple[int, float]:
        """(parameters changed at w, share of the image tower left unchanged): what a user means by an
        adapter's sparsity. Counted from the delta's values, so a w whose delta part is 0 (zero-shot, or
        before the delta is placed) changes nothing; no query. The count includes text-side parameters,
        the share only the image tower's."""
        changed = image_changed = 0
        if self.delta is not None:
            delta = next(self._deltas(torch.as_tensor(w, dtype=torch.float32)[None]))
            changed = sum(int(torch.count_nonzero(v)) for _, v in delta.values())
            image_changed = sum(int(torch.count_nonzero(v)) for _, v in split_change(delta)[0].values())
        total = self.image_parameters
        return changed, (1.0 - image_changed / total) if total else 1.0

    def _deltas(self, W: torch.Tensor):
        """The stored form {name: (indices, values)} of each row's delta; the projection runs once."""
        values = self.delta.values(torch.as_tensor(W, dtype=torch.float32)[:, self.space.vision])
        for v in values:
            yield self.delta.split(v)

    @property
    def changes_text(self) -> bool:
        return self.delta is not None and any(not n.startswith("visual.") for n in self.delta.names)

    def changed_tensors(self, w: torch.Tensor) -> dict[str, torch.Tensor] | None:
        """{param name: changed tensor} for one joint w, or None when no image parameter is tuned."""
        return next(self.changed_tensors_many(torch.as_tensor(w)[None]))

    def changed_tensors_many(self, W: torch.Tensor):
        """The image tower's changed tensors for each row of W (n, dim), one at a time (a changed copy of a
        large weight matrix per candidate would multiply the job's memory); the projection runs once."""
        if self.delta is None:
            yield from [None] * len(W)
            return
        for delta in self._deltas(W):
            yield overrides(self.model, split_change(delta)[0])

    def vision_delta(self, w: torch.Tensor) -> dict | None:
        """The stored form of the image-side change at w: {param name: (indices, values)}."""
        if self.delta is None:
            return None
        return self.delta.split(self.delta.values(torch.as_tensor(w, dtype=torch.float32)[None, self.space.vision])[0])

    def _text(self, Wp: torch.Tensor) -> torch.Tensor:
        """Text features (n, K, D) for the prompt rows; rows equal to the last single row reuse it."""
        if Wp.shape[0] == 1:
            key = Wp.numpy().tobytes()
            if self._text_memo is not None and self._text_memo[0] == key:
                return self._text_memo[1]
        per_chunk = max(1, self.learner.chunk_rows // self.learner.num_classes)
        T = torch.cat([self.learner.text_features(Wp[s:s + per_chunk]) for s in range(0, Wp.shape[0], per_chunk)])
        if Wp.shape[0] == 1:
            self._text_memo = (Wp.numpy().tobytes(), T)
        return T

    def class_embeddings(self, W: torch.Tensor) -> torch.Tensor:
        W = W.float().cpu()
        Wp = W[:, self.space.prompt].contiguous()
        if self.changes_text:  # each row changes the text tower its own way
            T = torch.cat([text_features_with_change(self.learner, self.learner.contexts(Wp[i:i + 1]), delta)
                           for i, delta in enumerate(self._deltas(W))])
        else:
            T = self._text(Wp)
        return T + self.space.head_delta(W).to(T.device)

    def image_features(self, w: torch.Tensor, which: int) -> torch.Tensor:
        """Train (which=0) or validation (1) image features at one joint w."""
        if self.towers is None:
            return self.train_z if which == 0 else self.val_z
        return self.towers[which].features(self.changed_tensors(w)).to(self.learner.device)

    def losses(self, W: torch.Tensor) -> torch.Tensor:
        W = torch.as_tensor(W, dtype=torch.float32)
        if W.dim() == 1:
            W = W[None]
        self.charge(W.shape[0])
        with exact_fp32(self.learner.device):
            T = self.class_embeddings(W)
            if self.anchor is not None:
                return self._ce(T - self.anchor.E0, self.train_z, self.train_y, base=self.anchor.train).double().cpu()
            if self.towers is None:
                return self._ce(T, self.train_z, self.train_y).double().cpu()
            Z = self.towers[0].features_many(self.changed_tensors_many(W)).to(self.learner.device)
            out = [self._ce(T[i:i + 1], Z[i], self.train_y) for i in range(W.shape[0])]
        return torch.cat(out).double().cpu()

    def losses_with_changes(self, tower, changes: list[dict]) -> torch.Tensor:
        """Training loss at w = 0 with each given change {name: (flat indices, values)}: its image part on
        `tower` (train images cached before the first candidate block), its text part through the text
        tower; one query each (the sensitivity probes)."""
        self.charge(len(changes))
        zero = torch.zeros(1, self.space.dim)
        out = []
        with exact_fp32(self.learner.device):
            T0 = self.class_embeddings(zero)
            for change in changes:
                image, text, context = split_change(change)
                T = T0 if not (text or context) else \
                    text_features_with_change(self.learner, self.learner.contexts(zero[:, self.space.prompt]), change)
                z = tower.features(overrides(self.model, image)).to(self.learner.device) if image else self.train_z
                out.append(self._ce(T, z, self.train_y))
        return torch.cat(out).double().cpu()

    def evaluate(self, w: torch.Tensor) -> Evaluated:
        self.charge(1)
        w = torch.as_tensor(w, dtype=torch.float32)
        with exact_fp32(self.learner.device):
            T = self.class_embeddings(w[None])[0]
            z_train, z_val = self.image_features(w, 0), self.image_features(w, 1)
        if self.anchor is not None:
            return self.evaluate_features(T, logits_of=self.anchored_logits(T))
        changed, sparsity = self.backbone_change(w)
        return dataclasses.replace(self.evaluate_features(T, train_z=z_train, val_z=z_val),
                                   params_changed=changed, backbone_sparsity=sparsity)
