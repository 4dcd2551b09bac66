import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

# Tiny models on 2 shared cores: one thread avoids thread hand-off costs that dwarf the work.
torch.set_num_threads(1)

from synthetic import synthetic_data  # noqa: E402
from tiny_models import tiny_causal, tiny_hf, tiny_hf_dir  # noqa: E402

import tuning  # noqa: E402


@pytest.fixture(scope="session")
def causal_backbone():
    tuning.register_backbone("tiny-causal", lambda dev: tiny_causal(), label="tiny causal (test)")
    return tuning.load_backbone("tiny-causal", device="cpu")


@pytest.fixture(scope="session")
def hf_backbone(tmp_path_factory):
    hf_dir = tiny_hf_dir(tmp_path_factory.mktemp("tinyhf"))
    tuning.register_backbone("tiny-hf", lambda dev: tiny_hf(hf_dir), label="tiny HF (test)")
    return tuning.load_backbone("tiny-hf", device="cpu")


@pytest.fixture(scope="session")
def synth(causal_backbone):
    return synthetic_data(causal_backbone)

