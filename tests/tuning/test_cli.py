"""`python -m tuning tune` and `predict` end to end on generated images with a local checkpoint."""
import json

from images import make_folder
from test_backbones import write_checkpoint

from tuning.__main__ import main


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
    assert text.lstrip().startswith("Balanced accuracy") and "Recall per class" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["queries"] <= 120 and 0 <= summary["tuned_test_acc"] <= 1
    assert summary["method"] == "auto"  # the default, as in the job form and the API
    chosen = summary["leaderboard"]["chosen"]
    assert "Candidates on the same" in text and "<- chosen" in text
    assert chosen in [e["key"] for e in summary["leaderboard"]["entries"]]
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


# ---- the CLI's summary: balanced accuracy, intervals and recall drops

def _tune_args(data, backbone, out, *extra):
    return ["tune", "--data", str(data), "--backbone", backbone, "--budget", "60", "--out", str(out),
            "--shots", "2", "--device", "cpu", "--no-progress", "--set", "intrinsic_dim=8", "--set", "popsize=4",
            "--set", "stage1_generations=2", "--set", "mask_every=10", *extra]


def test_damaged_image_is_left_out_and_listed_and_summary_has_balanced_accuracy(tmp_path, capsys):
    data = make_folder(tmp_path / "data", per_class=6)
    (data / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    _, ckpt = write_checkpoint(tmp_path)
    out = tmp_path / "adapter"
    rc = main(_tune_args(data, f"TinyTestClip@{ckpt}", out, "--method", "zosgd"))
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Left out 1 damaged image" in captured.err and "broken.png" in captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_images"] == [str(data / "red" / "broken.png")]
    tuned = summary["tuned_test"]
    assert tuned["images"] == summary["test_images"] and 0 <= tuned["balanced_accuracy"] <= 1
    lo, hi = tuned["balanced_accuracy_interval"]
    assert lo <= tuned["balanced_accuracy"] <= hi
    assert "balanced accuracy" in captured.out and "test images" in captured.out
    assert summary["better_than_zero_shot"] in (True, False)
    if not summary["better_than_zero_shot"]:
        assert "did not beat the untuned (zero-shot) model" in captured.out
        assert "The adapter written is the zero-shot one." in captured.out


def test_run_that_never_beats_zero_shot_says_so(tmp_path, capsys):
    data = make_folder(tmp_path / "data", per_class=6)
    _, ckpt = write_checkpoint(tmp_path)
    out = tmp_path / "adapter"
    # lr = 0: every candidate equals zero-shot, so tuning cannot beat it
    rc = main(_tune_args(data, f"TinyTestClip@{ckpt}", out, "--method", "zosgd", "--set", "lr=0"))
    text = capsys.readouterr().out
    assert rc == 0
    assert "did not beat the untuned (zero-shot) model" in text and "zero-shot one" in text
    assert json.loads((out / "summary.json").read_text())["better_than_zero_shot"] is False


def test_wrong_data_is_reported_before_the_backbone_loads(tmp_path, capsys, monkeypatch):
    import tuning

    def must_not_load(*a, **k):
        raise AssertionError("the backbone was loaded before --data was checked")

    monkeypatch.setattr(tuning, "load_backbone", must_not_load)
    rc = main(["tune", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_every_option_has_help_with_its_default(capsys):
    import pytest

    from tuning.__main__ import build_parser
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices
    for name in ("tune", "predict"):
        for action in sub[name]._actions:
            if action.dest != "help":
                assert action.help, (name, action.dest)
    with pytest.raises(SystemExit):
        parser.parse_args(["tune", "--help"])
    text = capsys.readouterr().out
    assert "default: 20000" in text and "default: demo" in text and "(default: auto)" in text


def test_zeroshot_progress_bar_does_not_count_to_the_budget(tmp_path, capsys):
    data = make_folder(tmp_path / "data", per_class=6)
    _, ckpt = write_checkpoint(tmp_path)
    args = [a for a in _tune_args(data, f"TinyTestClip@{ckpt}", tmp_path / "o", "--method", "zeroshot")
            if a != "--no-progress"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "1/1" in err and "/60" not in err


def test_the_summary_leads_with_balanced_accuracy_and_names_the_class_whose_recall_fell():
    # The walkthrough's imbalanced set: plain accuracy falls while balanced accuracy rises.
    import tuning
    from tuning.__main__ import summary_lines

    names = ["big", "small"]
    zero_shot = tuning.quality_of([[60, 40], [40, 10]], names)
    tuned = tuning.quality_of([[10, 90], [0, 50]], names)
    lines = summary_lines(zero_shot, tuned)
    assert lines[0].startswith("Balanced accuracy") and lines[0].endswith("rose.")
    assert "big 0.60 -> 0.10 (fell)" in lines[1] and "small 0.20 -> 1.00 (rose)" in lines[1]
    assert lines[2].startswith("Plain accuracy") and "0.4667" in lines[2] and "0.4000" in lines[2]
    unclear = summary_lines(zero_shot, tuning.quality_of([[61, 39], [40, 10]], names))
    assert "no clear change (within the 95% intervals)" in unclear[0]


def test_no_progress_silences_the_backbone_loading_bars_too(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    data = make_folder(tmp_path / "data", per_class=6)
    _, ckpt = write_checkpoint(tmp_path)
    assert main(_tune_args(data, f"TinyTestClip@{ckpt}", tmp_path / "o", "--method", "zeroshot")) == 0
    import os
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    assert "it/s" not in capsys.readouterr().err
