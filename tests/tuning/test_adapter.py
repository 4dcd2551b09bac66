import json

import pytest
import torch
from images import make_folder
from tiny_run import tiny_config

import tuning


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


def _crafted(tuned, directory, card_changes=None, **tensor_changes):
    """The tuned adapter saved, then its tensors changed as a hand-edited or crafted file would be (None: removed)."""
    from safetensors.torch import load_file, save_file

    tuning.save_adapter(tuned.adapter, directory)
    tensors = load_file(str(directory / "adapter.safetensors"))
    for name, value in tensor_changes.items():
        tensors.pop(name) if value is None else tensors.__setitem__(name, value)
    save_file(tensors, str(directory / "adapter.safetensors"), metadata={"format_version": "3"})
    card = json.loads((directory / "adapter.json").read_text())
    (directory / "adapter.json").write_text(json.dumps({**card, **(card_changes or {})}))
    return directory


def _text_delta(tuned, indices, values=None):
    """A sparse adapter's change of the class-specific contexts (K x m x width entries)."""
    values = torch.ones(len(indices)) if values is None else values
    K, D = tuned.adapter.class_embeddings.shape
    return {"vision_delta/text.class_context/indices": torch.tensor(indices, dtype=torch.long),
            "vision_delta/text.class_context/values": values, "head_delta": torch.zeros(K, D)}


SPARSE = {"adapt": "sparse", "format_version": 3}


@pytest.mark.parametrize("case, expected", [
    ("nan class embeddings", "class_embeddings holds values that are not finite"),
    ("infinite w", "w holds values that are not finite"),
    ("wrong P shape", "does not fit the card's projection"),
    ("negative text index", "names positions outside the tensor it changes"),
    ("text index past the end", "names positions outside the tensor it changes"),
    ("nan text values", "text.class_context/values holds values that are not finite"),
    ("fractional text indices", "not a list of whole numbers"),
    ("a tensor the card does not call for", "that its card does not call for"),
    ("a head of the wrong size", "head_delta has shape"),
])
def test_every_tensor_is_checked_when_an_adapter_is_loaded(tuned, tmp_path, case, expected):
    K, D = tuned.adapter.class_embeddings.shape
    m, width = tuned.adapter.P.shape
    nan = float("nan")
    changes = {
        "nan class embeddings": dict(class_embeddings=torch.full((K, D), nan)),
        "infinite w": dict(w=torch.full_like(tuned.adapter.w, float("inf"))),
        "wrong P shape": dict(P=torch.zeros(m + 1, width)),
        "negative text index": dict(card_changes=SPARSE, **_text_delta(tuned, [0, -3])),
        "text index past the end": dict(card_changes=SPARSE, **_text_delta(tuned, [0, K * m * width])),
        "nan text values": dict(card_changes=SPARSE, **_text_delta(tuned, [0, 1], torch.tensor([0.5, nan]))),
        "fractional text indices": dict(card_changes=SPARSE, **{**_text_delta(tuned, [0, 1]),
                                        "vision_delta/text.class_context/indices": torch.tensor([0.5, 1.0])}),
        "a tensor the card does not call for": dict(extra=torch.zeros(3)),
        "a head of the wrong size": dict(card_changes=SPARSE,
                                         **{**_text_delta(tuned, [0]), "head_delta": torch.zeros(K + 1, D)}),
    }[case]
    directory = _crafted(tuned, tmp_path / "a", **changes)
    with pytest.raises(tuning.AdapterError, match=expected):
        tuning.load_adapter(directory)


def test_a_sound_text_delta_still_loads(tuned, tmp_path):
    K, D = tuned.adapter.class_embeddings.shape
    m, width = tuned.adapter.P.shape
    loaded = tuning.load_adapter(_crafted(tuned, tmp_path / "a", card_changes=SPARSE,
                                          **_text_delta(tuned, [0, K * m * width - 1])))
    assert loaded.text_delta is not None


def _header_file(path, entries: int) -> None:
    header = ("{" + ",".join(f'"t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'
                             for i in range(entries)) + "}").encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header)


def test_a_crafted_safetensors_header_is_refused_before_it_is_parsed(tuned, tmp_path, monkeypatch):
    """200,000 entries (about 11 MB of header): refused from the header's declared length alone; a header
    within that length but with more entries than an adapter has is refused on its count."""
    from tuning import adapter as module

    directory = _crafted(tuned, tmp_path / "a")
    _header_file(directory / "adapter.safetensors", 200_000)
    with pytest.raises(tuning.AdapterError, match="declares a table of contents of"):
        tuning.load_adapter(directory)
    _header_file(directory / "adapter.safetensors", 5_000)
    monkeypatch.setattr(module, "MAX_TENSORS", 100)
    with pytest.raises(tuning.AdapterError, match="lists 5,000 tensors; an adapter has at most 100"):
        tuning.load_adapter(directory)


def test_a_change_of_the_backbone_must_fit_the_loaded_backbone(tuned, causal_backbone, tmp_path):
    """Tensors the backbone lacks, or positions past a tensor's end, are refused in words before predicting."""
    name, param = next((n, p) for n, p in causal_backbone.model.named_parameters() if n.startswith("visual."))
    for changed, expected in ((f"{name}.not-there", "that backbone .* does not have"),
                              (name, f"positions outside the tensor {name}")):
        delta = {f"vision_delta/{changed}/indices": torch.tensor([0, param.numel()]),
                 f"vision_delta/{changed}/values": torch.zeros(2),
                 "head_delta": torch.zeros_like(tuned.adapter.class_embeddings)}
        adapter = tuning.load_adapter(_crafted(tuned, tmp_path / changed, card_changes=SPARSE, **delta))
        with pytest.raises(tuning.AdapterError, match=expected):
            tuning.predict(adapter, causal_backbone, [torch.zeros(3, 8, 8)])
