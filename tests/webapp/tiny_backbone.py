"""Test plugin (settings.TUNING_BACKBONE_PLUGINS): a tiny random CLIP so that real jobs run in seconds.

Random weights give meaningless accuracies but the exact code paths, queries and files of a real run.

A job on a fast machine can finish before a test has looked at it running. While HOLD_FILE exists
(the `jobs_hold` fixture), every pass of the text tower waits HELD_PASS_SECONDS: the job keeps
running, reporting points and heartbeats, but no machine is fast enough to finish it unseen. The file
is the switch because the job runs in another process, the worker.
"""

import os
import time
from pathlib import Path

import tuning

TINY_BACKBONE = "tiny-test"
HOLD_FILE = Path(os.environ["WEBAPP_VAR_DIR"]) / "tiny-backbone.hold"  # set by tests/settings.py
HELD_PASS_SECONDS = 0.05


def _wait_while_held(module, inputs) -> None:
    if HOLD_FILE.exists():
        time.sleep(HELD_PASS_SECONDS)


def _load(device):
    from tests.tuning.tiny_models import tiny_causal  # torch: only in the worker that runs a job

    model, *rest = tiny_causal(device)
    model.transformer.register_forward_pre_hook(_wait_while_held)
    return (model, *rest)


tuning.register_backbone(
    TINY_BACKBONE,
    _load,
    label="Tiny random CLIP (tests only)",
    description="Two-layer random ViT and text tower: fast, accuracies are meaningless.",
)
