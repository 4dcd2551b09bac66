"""The number format of the text-tower forwards that the tuner compares.

Every gradient estimate here divides a difference of two losses, L(w + mu u) - L(w - mu u), by 2 mu.
At mu = 1e-3 the context embeddings move by about 0.1%, below bf16's resolution (2^-8, about 0.4%)
and near fp16's and TF32's (2^-11): in those formats the difference is mostly rounding, and CGE, RGE,
the SAM shift and the Z-pruning scores become noise (tuning/README.md has the measured agreement).
So a query (the context, the text tower and the loss) runs in IEEE fp32 with autocast and TF32 off,
whatever the device. Image features are computed once and never differenced, so they keep the
device's fast format.

- "fp32": exact enough on every device (the default).
- "autocast": the text tower in the backbone's fast format (bf16 on CUDA; fp32 on the CPU), as the
  tuner ran before this setting existed. It is kept so that such jobs resume unchanged, and to measure speed.
"""
from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def exact_fp32(device: torch.device):
    """IEEE fp32 inside the block, whatever autocast or TF32 switch is on around it (TF32 matmuls,
    which some libraries turn on process-wide, round like fp16)."""
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        with torch.autocast(device.type, enabled=False):
            yield
    finally:
        torch.set_float32_matmul_precision(before)


def text_forward_precision(precision: str, backbone):
    """The context the text-tower forwards run in."""
    if precision == "autocast" and backbone.autocast_dtype is not None:
        return torch.autocast(backbone.device.type, dtype=backbone.autocast_dtype)
    return exact_fp32(backbone.device)


def precision_label(precision: str, backbone) -> str:
    """What actually ran: 'fp32', 'bf16' or 'fp16' (for settings pages, reports and adapter cards)."""
    dtype = backbone.autocast_dtype if precision == "autocast" else None
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32") if dtype is not None else "fp32"
