"""Round trip: a tuned adapter version downloaded as an archive and applied with the `tuning` command
line (`tuning predict`, the README's own command) classifies a folder of images exactly as
`tuning.predict` does in-process on the same backbone.

The backbone is a tiny random CLIP saved as a local checkpoint ('<arch>@/path/to/ckpt.pt', the way an
air-gapped site installs CLIP), so a fresh process with no test plugin can load it too.
"""

import io
import json
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT
from tests.tuning.tiny_models import TINY_CFG, tiny_causal
from tests.webapp.factories import class_image_png, csrf_client, make_finished_job
from webapp.adapters.services import adapter_version_create_from_job

pytestmark = pytest.mark.django_db

CLASSES = ("blue", "green", "red")


def _local_checkpoint_backbone(directory: Path) -> str:
    model, *_ = tiny_causal()
    directory.mkdir()
    (directory / "tiny-roundtrip.json").write_text(json.dumps(TINY_CFG))
    torch.save(model.state_dict(), directory / "tiny-roundtrip.pt")
    return f"tiny-roundtrip@{directory / 'tiny-roundtrip.pt'}"


def _image_folder(root: Path, per_class: int) -> Path:
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            (root / name / f"{i:02d}.png").write_bytes(class_image_png(k, i))
    return root


def _cli_predictions(output: str) -> list[tuple[str, str, float]]:
    rows = [line.split("\t") for line in output.strip().splitlines()]
    return [(Path(path).name, label, float(confidence)) for path, label, confidence in rows]


def test_downloaded_archive_applied_with_the_cli_predicts_like_tuning_in_process(make_user, tmp_path):
    import tuning

    backbone_id = _local_checkpoint_backbone(tmp_path / "backbone")
    backbone = tuning.load_backbone(backbone_id, device="cpu")
    data = tuning.load_image_folder(_image_folder(tmp_path / "train", 6), backbone=backbone, shots=2, seed=0)
    config = tuning.TuneConfig.from_dict({"backbone": backbone_id, "budget": 48, "shots": 2, "intrinsic_dim": 8,
                                          "popsize": 4, "device": "cpu", "method": "sharpzo"})
    result = tuning.tune(config, data, backbone=backbone)
    tuning.save_adapter(result.adapter, tmp_path / "worker-out")
    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, backbone=backbone_id, model_line_name="press line 3 scratches")
    version = adapter_version_create_from_job(job=job, adapter_dir=tmp_path / "worker-out")

    response = csrf_client(alice).get(f"/adapters/versions/{version.pk}/archive/")
    assert response.status_code == 200
    site = tmp_path / "line-pc"
    zipfile.ZipFile(io.BytesIO(response.getvalue())).extractall(site)
    readme = (site / "press-line-3-scratches-v1" / "README.txt").read_text()
    command = next(line.strip() for line in readme.splitlines() if line.strip().startswith("tuning predict"))
    images = _image_folder(tmp_path / "new-images", 3)
    argv = [sys.executable, "-m", *shlex.split(command)]  # the `tuning` command is `python -m tuning` (test_wheel.py)
    argv[argv.index("/path/to/images")] = str(images)
    run = subprocess.run(argv, cwd=site, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr

    files = sorted(images.rglob("*.png"))
    in_process = tuning.predict(tuning.load_adapter(site / "press-line-3-scratches-v1"), backbone, files)
    original = tuning.predict(result.adapter, backbone, files)  # what the worker had in memory
    # What the README says it prints: path, class, confidence with four decimals, tab-separated.
    assert all(re.fullmatch(r"[^\t]+\t[^\t]+\t[01]\.\d{4}", line) for line in run.stdout.strip().splitlines())
    cli = _cli_predictions(run.stdout)
    assert [name for name, _, _ in cli] == [f.name for f in files]
    assert [label for _, label, _ in cli] == [p.label for p in in_process] == [p.label for p in original]
    assert [c for _, _, c in cli] == pytest.approx([p.probabilities[p.index] for p in in_process], abs=1e-4)
    assert re.search(r"sha256 " + version.sha256, readme)
