"""The typed contract the tuner publishes (Method, Stage, AdapterCard, the stage-switch field): names
written before it existed, in configs, metric points, checkpoints and adapter cards, still read."""
import json

import pytest
import torch
from tiny_run import stop_after, tiny_config

import tuning
from tuning.card import AdapterCard
from tuning.errors import AdapterError


def test_methods_and_stages_equal_the_strings_already_stored():
    assert tuning.Method.CMAES == "cmaes" and {tuning.Method.ZOSGD} == {"zosgd"}
    assert json.dumps([tuning.Method.SHARPZO, tuning.Stage.ZO]) == '["sharpzo", "zo"]'
    assert tuning.TuneConfig.from_dict({"method": "cmaes"}).method == tuning.Method.CMAES
    assert tuple(tuning.Method) == tuning.METHODS
    assert tuning.Method("linear_probe").label == "Linear probe" and not tuning.Method.LINEAR_PROBE.spends_queries


def test_old_stage_names_read_as_the_one_name_of_their_stage():
    assert tuning.Stage.read("stage1") is tuning.Stage.CMAES and tuning.Stage.read("cmaes") is tuning.Stage.CMAES
    assert tuning.Stage.read("stage2") is tuning.Stage.ZO and tuning.Stage.read("zo") is tuning.Stage.ZO
    assert tuning.Stage.read("done") == "done"  # a checkpoint phase that is no stage stays as it is


def test_a_checkpoint_written_in_stage1_under_its_old_name_resumes_there(synth, tmp_path):
    cfg = tiny_config(method="sharpzo", budget=500)
    full = tuning.tune(cfg, synth)
    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    tuning.tune(cfg, synth, should_stop=stop_after(3), checkpoint=ckpt)
    state = ckpt.load()
    assert state["phase"] == "cmaes"
    ckpt.save({**state, "phase": "stage1"})  # as a release before tuning.Stage wrote it
    resumed = tuning.tune(cfg, synth, checkpoint=ckpt)
    assert resumed.adapter.w.tolist() == full.adapter.w.tolist()


def test_the_first_point_of_each_stage_says_that_a_stage_started(synth):
    history = tuning.tune(tiny_config(method="sharpzo", budget=400), synth).history
    started = [m["stage"] for m in history if m["stage_started"]]
    assert started == ["zeroshot", "cmaes", "zo"]
    assert all(m["stage_started"] == (i == 0 or history[i - 1]["stage"] != m["stage"]) for i, m in enumerate(history))


def test_a_resumed_run_does_not_start_its_stage_again(synth, tmp_path):
    cfg = tiny_config(method="zosgd", budget=400)
    ckpt = tuning.FileCheckpoint(tmp_path / "ckpt.json")
    first = tuning.tune(cfg, synth, should_stop=stop_after(30), checkpoint=ckpt)
    assert first.history[-1]["stage"] == "zo"
    later = tuning.tune(cfg, synth, checkpoint=ckpt).history[len(first.history):]
    assert later and not any(m["stage_started"] for m in later)


CARD = {"format_version": 1, "backbone_id": "demo", "backbone_sha256": "ab" * 32, "class_names": ["a", "b"],
        "prompt_template": "{class}", "projection": {"seed": 0}, "method": "cmaes", "config": {"budget": 10},
        "logit_scale": 100.0, "metrics": {"query_precision": "fp32"}, "ctx_init": "a photo of a"}


def test_a_card_written_with_the_old_dataset_version_key_loads_as_dataset_hash():
    card = AdapterCard.from_json(json.dumps({**CARD, "dataset_version": "f" * 64}))
    assert card.dataset_hash == "f" * 64 and card.method == tuning.Method.CMAES
    assert card.extra == {"ctx_init": "a photo of a"} and card.query_precision == "fp32"
    written = json.loads(card.to_json())
    assert written["dataset_hash"] == "f" * 64 and "dataset_version" not in written
    assert AdapterCard.from_json(card.to_json()) == card


def test_an_old_card_on_disk_loads_and_is_written_back_under_the_new_key(causal_backbone, synth, tmp_path):
    adapter = tuning.tune(tiny_config(method="zeroshot", budget=10), synth).adapter
    tuning.save_adapter(adapter, tmp_path / "a")
    card_file = tmp_path / "a" / "adapter.json"
    old = json.loads(card_file.read_text())
    old["dataset_version"] = old.pop("dataset_hash")
    card_file.write_text(json.dumps(old))
    loaded = tuning.load_adapter(tmp_path / "a")
    assert loaded.card["dataset_hash"] == adapter.card["dataset_hash"] and "dataset_version" not in loaded.card
    assert loaded.about.dataset_hash == adapter.card["dataset_hash"]


@pytest.mark.parametrize("change, message", [
    ({"format_version": 99}, "format version 99"), ({"method": None}, None), ("drop", "lacks method")])
def test_a_card_this_version_cannot_read_is_refused_in_words(change, message):
    if change == "drop":
        card = {k: v for k, v in CARD.items() if k != "method"}
    else:
        card = {**CARD, **change}
    if message is None:  # a value of the wrong type is the reader's to judge (the web checks its columns)
        assert AdapterCard.from_dict(card).method is None
        return
    with pytest.raises(AdapterError, match=message):
        AdapterCard.from_dict(card)


@pytest.mark.parametrize("text, arch, tag, path, shown", [
    ("demo", None, None, None, "demo"),
    ("ViT-B-32:openai", "ViT-B-32", "openai", None, "ViT-B-32:openai"),
    ("ViT-B-32@/models/b32.pt", "ViT-B-32", None, "/models/b32.pt", "ViT-B-32"),
    ("ViT-B-32@C:/models/b32.pt", "ViT-B-32", None, "C:/models/b32.pt", "ViT-B-32"),  # '@' is read first
    ("ViT-B-16:openai@/opt/clip/b16.pt", "ViT-B-16", "openai", "/opt/clip/b16.pt", "ViT-B-16:openai"),
    ("ViT-B-16:openai@C:/clip/b16.pt", "ViT-B-16", "openai", "C:/clip/b16.pt", "ViT-B-16:openai"),
    ("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", None, None, None, "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K"),
])
def test_the_backbone_id_grammar_is_parsed_once(text, arch, tag, path, shown):
    ref = tuning.parse_backbone_id(text)
    assert (ref.arch, ref.pretrained_tag, ref.checkpoint_path, ref.without_path) == (arch, tag, path, shown)
    assert ref.is_name == (arch is None and not text.startswith("hf-hub:"))


def test_the_loader_takes_the_ingest_hashes_instead_of_hashing_again(causal_backbone, tmp_path, monkeypatch):
    import hashlib

    from images import make_folder

    import tuning.data

    root = make_folder(tmp_path / "data", per_class=4)
    hashed = tuning.load_image_folder(root, backbone=causal_backbone, shots=2, seed=0)
    known = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.png")}
    read = []
    monkeypatch.setattr(tuning.data, "_sha256", lambda path: read.append(path) or "x")
    given = tuning.load_image_folder(root, backbone=causal_backbone, shots=2, seed=0, hashes=known)
    assert read == []  # no image was read to be hashed
    assert given.dataset_hash == hashed.dataset_hash and torch.equal(given.test.features, hashed.test.features)
    del known["red/0.png"]
    tuning.load_image_folder(root, backbone=causal_backbone, shots=2, seed=0, hashes=known)
    assert [p.relative_to(root).as_posix() for p in read] == ["red/0.png"]  # one the manifest lacks is hashed
