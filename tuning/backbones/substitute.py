"""Running the frozen backbone with some of its tensors replaced for one call (a sparse change of the text
or image tower), without ever modifying the shared model."""
from __future__ import annotations

import torch


class _Calling(torch.nn.Module):
    """Runs `fn` with the model as a submodule, so functional_call can swap the model's tensors by name."""

    def __init__(self, model, fn):
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def call_with(model, changed: dict[str, torch.Tensor] | None, fn, *args):
    """fn(*args) with the model's tensors in `changed` ({full name: tensor}) in place of its own, for the
    call only: the shared backbone is never modified."""
    if not changed:
        return fn(*args)
    from torch.func import functional_call
    return functional_call(_Calling(model, fn), {f"model.{n}": t for n, t in changed.items()}, args)
