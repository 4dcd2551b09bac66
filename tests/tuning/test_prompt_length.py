"""The prompt length the time model plans with, estimated without a tokenizer, against the real one."""

import pytest

import tuning
from tuning.backbones.prompt_length import prompt_tokens_estimate
from tuning.backbones.prompts import PromptLearner

NAMES = [
    ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"],
    ["finishing_roll_printing", "oxide_scale_of_temperature_system", "surface_scratch"],
    ["nominal", "local defect", "global defect"],
    [f"class {i}" for i in range(8)],
]


@pytest.mark.parametrize("names", NAMES)
def test_the_estimate_is_the_length_the_demo_tokenizer_runs(names):
    backbone = tuning.load_backbone("demo", device="cpu")
    assert prompt_tokens_estimate(names) == PromptLearner(backbone, names, intrinsic_dim=4).length


def test_a_word_that_byte_pair_encoding_splits_is_counted_once():
    # 'pitting' is two tokens to the demo's tokenizer: one short, which a time estimate can carry
    backbone = tuning.load_backbone("demo", device="cpu")
    assert prompt_tokens_estimate(["good", "pitting"]) == PromptLearner(backbone, ["good", "pitting"],
                                                                         intrinsic_dim=4).length - 1
    assert prompt_tokens_estimate([]) == 0
