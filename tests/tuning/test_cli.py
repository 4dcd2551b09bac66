"""`python -m tuning tune` and `predict` end to end on generated images with a local checkpoint."""
import json

from images import make_folder
from test_backbones import write_checkpoint
from tuning.cli import main


def test_tune_then_predict(tmp_path, capsys):
    data = make_folder(tmp_path / "data", per_class=6)
    _, ckpt = write_checkpoint(tmp_path)
    backbone = f"TinyTestClip@{ckpt}"
    out = tmp_path / "adapter"
    rc = main(["tune", "--data", str(data), "--backbone", backbone, "--budget", "120", "--out", str(out),
               "--shots", "2", "--device", "cpu", "--no-progress", "--set", "intrinsic_dim=8", "--set", "popsize=4",
               "--set", "stage1_generations=2", "--set", "mask_every=10", "--checkpoint", str(tmp_path / "ck.json")])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "zero-shot test accuracy" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["queries"] <= 120 and 0 <= summary["tuned_test_acc"] <= 1
    assert (out / "adapter.safetensors").exists()

    rc = main(["predict", "--adapter", str(out), "--images", str(data / "red"), "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert rc == 0 and len(lines) == 6
    assert all(line["label"] in ("red", "green", "blue") for line in lines)


def test_cli_reports_plain_errors(tmp_path, capsys):
    rc = main(["tune", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o"), "--set", "bogus=1"])
    assert rc == 2 and "Unknown setting" in capsys.readouterr().err
    rc = main(["predict", "--adapter", str(tmp_path), "--images", str(tmp_path)])
    assert rc == 2 and "missing" in capsys.readouterr().err
