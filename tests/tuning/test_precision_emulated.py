"""Finite differences are signal under a GPU's fast number format, proved on the CPU by emulation.

A GPU backbone runs its towers in bf16 autocast. Here CPU bf16 autocast (which rounds as the GPU's
does) is put around the project's own Objective, as a device would be, and the directional derivatives
(L(w + mu u) - L(w - mu u)) / 2mu at mu = 1e-3 are compared with plain fp32 ones over 32 directions.
The tuner's default precision must agree; the old behaviour ('autocast' reaching the differenced
forwards) must not, or the emulation did not take effect and the test would prove nothing."""
import pytest

import tuning
from bench.common import random_backbone
from bench.fd_agreement import agreement

CLASSES = ["crazing", "patches", "rolled-in scale", "scratches"]


@pytest.fixture(scope="module", params=["demo", "ViT-B-32"])
def backbone(request):
    if request.param == "demo":
        return tuning.load_backbone("demo", device="cpu")
    return random_backbone("ViT-B-32", "cpu")  # the real architecture, random weights


def test_directional_derivatives_under_bf16_autocast_agree_with_fp32(backbone):
    rows = {r["precision"]: r for r in agreement(backbone, ["bf16"], directions=32, class_names=CLASSES)}
    assert rows["fp32"]["corr"] >= 0.99 and rows["fp32"]["rel_err"] <= 0.1, rows["fp32"]
    # the emulation is real: bf16 in the differenced forwards is mostly rounding noise
    assert rows["autocast"]["corr"] < 0.99 or rows["autocast"]["rel_err"] > 0.1, rows["autocast"]


def test_default_precision_is_fp32_and_the_adapter_says_what_ran(synth):
    from tiny_run import tiny_config
    assert tuning.TuneConfig().precision == "fp32"
    result = tuning.tune(tiny_config(method="zosgd", budget=30), synth)
    assert result.adapter.card["metrics"]["query_precision"] == "fp32"
    assert result.adapter.card["config"]["precision"] == "fp32"
