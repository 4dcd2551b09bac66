"""The tuning methods, named once (TuneConfig.method, the web form, job names, reports).

`Method` is a str enum: a member equals the plain string stored in configs, job rows and adapter
cards (Method.CMAES == "cmaes"), so records written before it existed compare and load unchanged.
Light on purpose (no torch): the web app lists the methods from here.
"""
from __future__ import annotations

from enum import StrEnum


class Method(StrEnum):
    AUTO = "auto"
    SHARPZO = "sharpzo"
    CMAES = "cmaes"
    ZOSGD = "zosgd"
    COOP = "coop"
    LINEAR_PROBE = "linear_probe"
    TIP_ADAPTER = "tip_adapter"
    ZEROSHOT = "zeroshot"

    @property
    def label(self) -> str:
        """The method's name for people ('CMA-ES'), as job names and reports print it."""
        return LABELS[self]

    @property
    def description(self) -> str:
        """One line on what the method does, as the launch form offers it."""
        return _DESCRIPTIONS[self]

    @property
    def spends_queries(self) -> bool:
        """False for the methods that read the cached image features only: they spend one query (the
        zero-shot evaluation), whatever the budget."""
        return self not in NO_QUERY_METHODS

    @property
    def can_adapt_sparse(self) -> bool:
        """Whether the method tunes with queries over the joint vector, so adapt='sparse' applies."""
        return self in SPARSE_METHODS


LABELS = {  # in the order lists and filters offer them
    Method.AUTO: "Auto",
    Method.SHARPZO: "SharpZO",
    Method.ZEROSHOT: "Zero-shot",
    Method.CMAES: "CMA-ES",
    Method.ZOSGD: "ZO-SGD",
    Method.COOP: "CoOp",
    Method.LINEAR_PROBE: "Linear probe",
    Method.TIP_ADAPTER: "Tip-Adapter",
}
_DESCRIPTIONS = {
    Method.AUTO: "Auto: tries the quick methods first, then forward-only search starting from the best of them, "
                 "and keeps whichever wins on validation by more than chance",
    Method.CMAES: "CMA-ES: forward-only search over the prompt, and with sparse adapters a linear head",
    Method.LINEAR_PROBE: "Linear probe: logistic regression on the frozen image features (seconds, ignores the budget)",
    Method.SHARPZO: "SharpZO: CMA-ES, then ZO-SGD (forward-only; its sharpness shift and mask are settings)",
    Method.TIP_ADAPTER: "Tip-Adapter: the training images as a cache beside the zero-shot prompts (seconds, "
                        "ignores the budget)",
    Method.ZEROSHOT: "Zero-shot: no tuning, the baseline",
    Method.ZOSGD: "ZO-SGD only (MeZO-like baseline)",
    Method.COOP: "CoOp: backpropagation reference (not forward-only, needs more memory)",
}
NO_QUERY_METHODS = (Method.ZEROSHOT, Method.LINEAR_PROBE, Method.TIP_ADAPTER)
SPARSE_METHODS = (Method.SHARPZO, Method.CMAES, Method.ZOSGD)
SHARPNESS_METHODS = (Method.SHARPZO,)  # the methods whose metric points carry a sharpness (both its stages)
