import json

import pytest
import torch

import tuning
from tiny_run import tiny_config
from images import make_folder


@pytest.fixture(scope="module")
def tuned(synth):
    return tuning.tune(tiny_config(budget=150), synth)


def test_round_trip_gives_identical_predictions(tuned, synth, causal_backbone, tmp_path):
    tuning.save_adapter(tuned.adapter, tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["adapter.json", "adapter.safetensors"]
    loaded = tuning.load_adapter(tmp_path / "a")
    assert torch.equal(loaded.class_embeddings, tuned.adapter.class_embeddings)
    assert torch.equal(loaded.w, tuned.adapter.w) and torch.equal(loaded.P, tuned.adapter.P)
    assert loaded.card == json.loads(json.dumps(tuned.adapter.card))
    a = tuning.evaluate(causal_backbone, synth.test, adapter=tuned.adapter, class_names=synth.class_names)
    b = tuning.evaluate(causal_backbone, synth.test, adapter=loaded, class_names=synth.class_names)
    assert a.predictions == b.predictions and a.confusion == b.confusion


def test_card_contents(tuned):
    card = tuned.adapter.card
    for key in ("format_version", "backbone_id", "backbone_sha256", "class_names", "prompt_template",
                "projection", "method", "config", "dataset_hash", "metrics", "created_at"):
        assert key in card
    assert card["projection"]["shape"] == [tuned.adapter.P.numel(), 16]


def test_stored_context_reproduces_the_class_embeddings(tuned, causal_backbone):
    again = tuning.apply_adapter(tuned.adapter, causal_backbone)
    assert torch.allclose(again, tuned.adapter.class_embeddings, atol=1e-5)


def test_predict_on_images(tuned, causal_backbone, tmp_path):
    # a 5-class adapter applied to generated images: shapes and probabilities only
    folder = make_folder(tmp_path / "imgs", per_class=2)
    files = sorted(folder.rglob("*.png"))
    from PIL import Image
    preds = tuning.predict(tuned.adapter, causal_backbone, files[:2] + [Image.open(files[2])])
    assert len(preds) == 3
    for p in preds:
        assert p.label == tuned.adapter.class_names[p.index]
        assert abs(sum(p.probabilities) - 1) < 1e-5 and len(p.probabilities) == 5


def _saved(tuned, tmp_path):
    return tuning.save_adapter(tuned.adapter, tmp_path / "a")


def test_missing_file(tuned, tmp_path):
    d = _saved(tuned, tmp_path)
    (d / "adapter.safetensors").unlink()
    with pytest.raises(tuning.AdapterError, match="adapter.safetensors is missing"):
        tuning.load_adapter(d)
    with pytest.raises(tuning.AdapterError, match="missing"):
        tuning.load_adapter(tmp_path / "nowhere")


def test_corrupt_tensors_and_card(tuned, tmp_path):
    d = _saved(tuned, tmp_path)
    (d / "adapter.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(tuning.AdapterError, match="damaged"):
        tuning.load_adapter(d)
    d = _saved(tuned, tmp_path)
    (d / "adapter.json").write_text("{not json")
    with pytest.raises(tuning.AdapterError, match="not valid JSON"):
        tuning.load_adapter(d)


def test_wrong_version_and_missing_tensor(tuned, tmp_path):
    d = _saved(tuned, tmp_path)
    card = json.loads((d / "adapter.json").read_text())
    card["format_version"] = 99
    (d / "adapter.json").write_text(json.dumps(card))
    with pytest.raises(tuning.AdapterError, match="format version 99"):
        tuning.load_adapter(d)
    d = _saved(tuned, tmp_path)
    from safetensors.torch import save_file
    save_file({"w": tuned.adapter.w}, str(d / "adapter.safetensors"))
    with pytest.raises(tuning.AdapterError, match="lack P, class_embeddings"):
        tuning.load_adapter(d)


def test_check_compatible_refuses_another_backbone(tuned, causal_backbone, hf_backbone):
    tuning.check_compatible(tuned.adapter, causal_backbone)
    with pytest.raises(tuning.AdapterError, match="tuned for backbone 'tiny-causal'"):
        tuning.check_compatible(tuned.adapter, hf_backbone)
    with pytest.raises(tuning.AdapterError):
        tuning.predict(tuned.adapter, hf_backbone, [])
