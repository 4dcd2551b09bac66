"""The demo backbone was renewed (v2 is "demo"), and adapters made with the first one
keep working. Their cards say "demo" with v1's sha256; the sha256 picks "demo-v1". The adapter in
v1_adapter/ was written by the code from before v2, with the predictions that code made."""
import json
import shutil
from pathlib import Path

import pytest
import torch

import tuning
from tests.webapp.factories import class_image_png
from tuning import __main__ as cli
from tuning.backbones.catalogue import backbone_for_card
from tuning.checkpoint import FileCheckpoint
from tuning.demo_backbone import identify, recorded_sha256
from tuning.demo_backbone.versions import V1, V2, DemoVersion

V1_ADAPTER = Path(__file__).parent / "v1_adapter"
CLASSES = ("red", "green", "blue")
UNKNOWN_SHA = "ab" * 32


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """The images the v1 adapter's recorded predictions were made on (make_ready_version's too)."""
    root = tmp_path_factory.mktemp("images")
    for k, label in enumerate(CLASSES):
        (root / label).mkdir()
        for i in range(6):
            (root / label / f"{i}.png").write_bytes(class_image_png(k, i))
    return root


@pytest.fixture(scope="module")
def recorded():
    return json.loads((V1_ADAPTER / "predictions.json").read_text())


def _adapter_copy(tmp_path, **card_changes) -> Path:
    folder = tmp_path / "adapter"
    shutil.copytree(V1_ADAPTER, folder)
    card = json.loads((folder / "adapter.json").read_text())
    (folder / "adapter.json").write_text(json.dumps({**card, **card_changes}))
    return folder


def test_both_versions_are_registered_and_demo_stays_the_default():
    infos = {info.id: info for info in tuning.list_backbones()}
    assert tuning.DEFAULT_BACKBONE == "demo" and infos["demo"].is_demo and infos["demo-v1"].is_demo
    assert infos["demo"].label == "Demo backbone (small; NOT real CLIP weights)"
    assert "older" in infos["demo-v1"].label and "adapters made with it" in infos["demo-v1"].label


def test_an_adapter_card_is_matched_to_a_demo_version_by_its_sha256():
    v1_sha, v2_sha = recorded_sha256(V1), recorded_sha256(V2)
    assert v1_sha != v2_sha
    assert backbone_for_card("demo", v1_sha) == "demo-v1"  # made before v2: says "demo"
    assert backbone_for_card("demo", v2_sha) == "demo"
    assert backbone_for_card("demo-v1", v1_sha) == "demo-v1"
    assert backbone_for_card("demo", None) == "demo"  # nothing else to go by
    assert backbone_for_card("ViT-B-32:openai", v1_sha) == "ViT-B-32:openai"  # only demo ids are read this way


def test_a_demo_card_with_weights_no_version_has_is_refused_naming_what_it_needs_and_what_there_is():
    with pytest.raises(tuning.BackboneError) as refused:
        backbone_for_card("demo", UNKNOWN_SHA)
    message = str(refused.value)
    assert f"demo backbone weights sha256 {UNKNOWN_SHA[:12]}..., which this installation does not have" in message
    assert f"demo (v2, sha256 {recorded_sha256(V2)[:12]}...)" in message
    assert f"demo-v1 (v1, sha256 {recorded_sha256(V1)[:12]}...)" in message


def test_a_versions_sha256_is_read_from_its_card_once_and_again_when_the_card_changes(tmp_path, monkeypatch):
    version = DemoVersion("demo-test", "v9", {}, tmp_path, "test", "test")
    assert recorded_sha256(version) is None  # not installed
    version.checkpoint_path.write_bytes(b"weights")
    version.card_path.write_text(json.dumps({"sha256": "1" * 64}))
    reads = []
    real_loads = json.loads
    monkeypatch.setattr(identify.json, "loads", lambda text: reads.append(text) or real_loads(text))
    assert recorded_sha256(version) == recorded_sha256(version) == "1" * 64 and len(reads) == 1
    version.card_path.write_text(json.dumps({"sha256": "2" * 64, "note": "a new card"}))
    assert recorded_sha256(version) == "2" * 64 and len(reads) == 2


def test_an_adapter_made_before_v2_predicts_on_demo_v1_as_it_did_then(images, recorded, capsys):
    """The command line README of every download gives: the card's "demo" + v1 sha256 loads demo-v1."""
    assert tuning.load_adapter(V1_ADAPTER).card["backbone_id"] == "demo"
    torch.set_num_threads(2)
    assert cli.main(["predict", "--adapter", str(V1_ADAPTER), "--images", str(images), "--json",
                            "--device", "cpu"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 18
    for line in lines:
        then = recorded["probabilities"][str(Path(line["image"]).relative_to(images))]
        assert line["confidence"] == pytest.approx(max(then), abs=1e-4)

    adapter = tuning.load_adapter(V1_ADAPTER)
    backbone = tuning.load_backbone(backbone_for_card(adapter.card["backbone_id"], adapter.card["backbone_sha256"]),
                                    device="cpu")
    assert backbone.id == "demo-v1" and backbone.checkpoint_sha256 == recorded["backbone_sha256"]
    names = sorted(recorded["probabilities"])
    now = tuning.predict(adapter, backbone, [images / name for name in names])
    for name, prediction in zip(names, now):
        assert prediction.probabilities == pytest.approx(recorded["probabilities"][name], abs=1e-4), name


def test_a_v1_adapter_on_v2_is_refused_in_words_not_with_a_shape_error(images):
    adapter = tuning.load_adapter(V1_ADAPTER)  # a sparse adapter: its image-tower delta fits v1's layers only
    v2 = tuning.load_backbone("demo", device="cpu")
    with pytest.raises(tuning.AdapterError, match="Load the backbone 'demo-v1', which has the weights it was tuned on"):
        tuning.predict(adapter, v2, [images / "red" / "0.png"])


def test_a_v2_adapter_on_v1_is_refused_in_words(tmp_path, images):
    adapter = tuning.load_adapter(_adapter_copy(tmp_path, backbone_sha256=recorded_sha256(V2)))
    v1 = tuning.load_backbone("demo-v1", device="cpu")
    with pytest.raises(tuning.AdapterError, match="loaded backbone is 'demo-v1'.*Load the backbone it was tuned for"):
        tuning.predict(adapter, v1, [images / "red" / "0.png"])


def test_a_demo_adapter_whose_weights_are_not_installed_gets_the_clear_message(tmp_path, images, capsys):
    folder = _adapter_copy(tmp_path, backbone_sha256=UNKNOWN_SHA)
    assert cli.main(["predict", "--adapter", str(folder), "--images", str(images), "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: This adapter was made with demo backbone weights sha256 {UNKNOWN_SHA[:12]}...")
    assert f"demo-v1 (v1, sha256 {recorded_sha256(V1)[:12]}...)" in error
    with pytest.raises(tuning.AdapterError, match="which this installation does not have"):
        tuning.check_compatible(tuning.load_adapter(folder), tuning.load_backbone("demo", device="cpu"))


@pytest.mark.parametrize("written_on", ["v1 (recorded)", "before versions (no sha256 recorded)"])
def test_a_tuner_checkpoint_written_on_v1_is_not_resumed_on_v2(written_on, images, tmp_path):
    """A job's resume state holds losses and a best point found with v1's weights; on v2 they mean
    nothing (and a sparse layout does not even fit), so resuming is refused in words."""
    config = {"backbone": "demo", "method": "cmaes", "budget": 24, "shots": 2, "seed": 0, "intrinsic_dim": 4,
              "popsize": 4, "checkpoint_every": 4, "device": "cpu"}
    data = tuning.load_image_folder(images, backbone="demo", shots=2, seed=0)
    checkpoint = FileCheckpoint(tmp_path / "state.json")
    tuning.tune(config, data, checkpoint=checkpoint)
    state = json.loads(checkpoint.path.read_text())
    assert state["backbone_sha256"] == recorded_sha256(V2)  # what a checkpoint is written with from now on

    if written_on.startswith("v1"):
        state["backbone_sha256"] = recorded_sha256(V1)
    else:
        del state["backbone_sha256"]
    checkpoint.save(state)
    v1_sha = recorded_sha256(V1)
    with pytest.raises(tuning.CheckpointMismatch, match=f"weights sha256 {v1_sha[:12]}.*no run resumes from it"):
        tuning.tune(config, data, checkpoint=checkpoint)
