"""Finite-difference agreement: are the tuner's two-point estimates signal in a fast number format?

For n random directions u at a point w, the directional derivative (L(w + mu u) - L(w - mu u)) / 2mu
is computed through the project's own Objective twice: once in plain fp32 (the reference) and once
with the text tower in a fast format (bf16 or fp16 autocast, or TF32 matmuls), as a GPU runs it. On
the CPU the formats are emulated (CPU autocast rounds like the GPU's, which is the point). Reported:
the correlation of the two sets of derivatives and the relative error ||fast - ref|| / ||ref||.

"precision" is the tuner's setting: 'autocast' lets the fast format reach the differenced forwards
(the behaviour before that setting existed), 'fp32' keeps them exact whatever the device does.

    python -m bench.fd_agreement [--backbone demo] [--mu 1e-3]
"""
from __future__ import annotations

import argparse
import contextlib

import torch
import torch.nn.functional as F

from tuning.backbones.prompts import PromptLearner
from tuning.data import FewShotData, Split
from tuning.objective import Objective

from .common import table

FORMATS = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": None}
CLASSES = ["crazing", "inclusion", "patches", "pitted surface", "rolled-in scale", "scratches"]


@contextlib.contextmanager
def fast_format(backbone, fmt: str | None):
    """Run the block as a device whose fast format is `fmt` would (None: plain fp32)."""
    saved = backbone.autocast_dtype, torch.get_float32_matmul_precision()
    dtype = FORMATS.get(fmt)
    backbone.autocast_dtype = dtype
    outer = torch.autocast(backbone.device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    if fmt == "tf32":
        torch.set_float32_matmul_precision("high")
    try:
        with outer:
            yield
    finally:
        backbone.autocast_dtype = saved[0]
        torch.set_float32_matmul_precision(saved[1])


def class_like_features(learner: PromptLearner, per_class: int, seed: int) -> FewShotData:
    """Image features near each class's own prompt feature, so the loss has a real landscape."""
    g = torch.Generator().manual_seed(seed)
    T = learner.zero_shot_features().float().cpu()
    K, D = T.shape
    y = torch.arange(K).repeat_interleave(per_class)
    z = F.normalize(T[y] + 0.05 * torch.randn(len(y), D, generator=g), dim=-1)
    split = Split(z, y)
    return FewShotData(list(learner.class_names), split, split, split, backbone_id=learner.backbone.id)


def directional_derivatives(learner, data, w, U, mu, fmt) -> torch.Tensor:
    obj = Objective(learner, data, budget=2 * len(U))
    with fast_format(learner.backbone, fmt):
        L = obj.losses(torch.cat([w + mu * U, w - mu * U]))
    n = len(U)
    return (L[:n] - L[n:]) / (2 * mu)


def agreement(backbone, formats, *, mu: float = 1e-3, directions: int = 32, intrinsic_dim: int = 32,
              class_names=CLASSES, seed: int = 0) -> list[dict]:
    """For each fast format and each tuner precision: the correlation and relative error of its
    directional derivatives against plain fp32 ones."""
    learner = PromptLearner(backbone, class_names, intrinsic_dim=intrinsic_dim, proj_seed=seed)
    data = class_like_features(learner, per_class=16, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    w = 0.3 * torch.randn(intrinsic_dim, generator=g, dtype=torch.float64)
    U = torch.randn(directions, intrinsic_dim, generator=g, dtype=torch.float64)
    ref = directional_derivatives(learner, data, w, U, mu, None)
    rows = []
    for fmt in formats:
        for precision in ("autocast", "fp32"):
            learner.precision = precision
            fast = directional_derivatives(learner, data, w, U, mu, fmt)
            rows.append({"format": fmt, "precision": precision,
                         "corr": float(torch.corrcoef(torch.stack([ref, fast]))[0, 1]),
                         "rel_err": float((fast - ref).norm() / ref.norm())})
    return rows


def agreement_table(backbone, formats, *, mu: float = 1e-3, directions: int = 32) -> str:
    rows = [[r["format"], r["precision"], f"{r['corr']:.4f}", f"{r['rel_err']:.3g}"]
            for r in agreement(backbone, formats, mu=mu, directions=directions)]
    return (f"`{backbone.id}` text tower on {backbone.device.type}, mu = {mu:g}, {directions} random directions, "
            "K = 6 classes, d = 32; goal: correlation >= 0.99 and relative error <= 0.1.\n\n"
            + table(["fast format of the device", "tuner precision", "correlation with fp32", "relative error"], rows))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="demo")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--mu", type=float, default=1e-3)
    ap.add_argument("--formats", default=None, help="comma-separated (default: bf16,fp16; tf32 too on CUDA)")
    args = ap.parse_args(argv)
    import tuning

    from .common import random_backbone
    bb = (random_backbone(args.backbone[len("random-"):], args.device) if args.backbone.startswith("random-")
          else tuning.load_backbone(args.backbone, device=args.device))
    formats = (args.formats or ("bf16,fp16,tf32" if bb.device.type == "cuda" else "bf16,fp16")).split(",")
    print(agreement_table(bb, formats, mu=args.mu))


if __name__ == "__main__":
    main()
