"""Round trip, the way a line PC does it: the archive and the `tuning` wheel downloaded from the
dashboard, the wheel installed in a fresh virtual environment with the README's own `pip install`
line, and the README's `tuning predict` line run from a clean shell classify a folder of images exactly
as `tuning.predict` does in-process on the same backbone.

The backbone is a tiny random CLIP saved as a local checkpoint ('<arch>@/path/to/ckpt.pt', the way an
air-gapped site installs CLIP), so a fresh process with no test plugin can load it too.
"""

import io
import json
import re
import site as python_site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

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


def _readme_line(readme: str, start: str) -> str:
    return next(line.strip() for line in readme.splitlines() if line.strip().startswith(start))


def _fresh_environment(path: Path) -> dict:
    """A new virtual environment (with its own pip) and a clean shell's variables for it.

    Stand-in for the line PC's internet or folder of wheels: the dependencies the wheel declares (torch,
    open_clip, ...) are made visible from this test run's environment through a .pth file, so pip finds
    them installed and fetches nothing (PIP_NO_INDEX forbids it). `tuning` itself comes only from the wheel."""
    made = subprocess.run([sys.executable, "-m", "venv", path], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    # Python 3.11's venv adds an old setuptools that would hide the newer one torch declares it needs
    # (and that a line PC's pip would fetch): the fresh environment keeps pip alone.
    dropped = subprocess.run([path / "bin" / "python", "-m", "pip", "uninstall", "-y", "-q", "setuptools"],
                             capture_output=True, text=True, timeout=300)
    assert dropped.returncode == 0, dropped.stderr
    env_site = next(path.glob("lib/python*/site-packages"))
    (env_site / "dependencies.pth").write_text("\n".join(python_site.getsitepackages()) + "\n")
    return {"PATH": f"{path / 'bin'}:/usr/bin:/bin", "HOME": str(path), "HF_HUB_OFFLINE": "1", "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _shell(line: str, *, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_readme_followed_on_a_fresh_machine_predicts_like_tuning_in_process(make_user, tmp_path, settings):
    import tuning

    settings.TUNING_WHEEL_DIR = tmp_path / "wheels"

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

    client = csrf_client(alice)
    page = client.get(f"/adapters/versions/{version.pk}/").content.decode()
    wheel_url = re.search(r'href="([^"]+)" id="tuning-wheel"', page).group(1)
    wheel = client.get(wheel_url)
    assert wheel.status_code == 200
    site = tmp_path / "line-pc"
    site.mkdir()
    wheel_name = re.search(r'filename="([^"]+)"', wheel["Content-Disposition"]).group(1)
    (site / wheel_name).write_bytes(b"".join(wheel.streaming_content))
    response = client.get(f"/adapters/versions/{version.pk}/archive/")
    assert response.status_code == 200
    zipfile.ZipFile(io.BytesIO(response.getvalue())).extractall(site)
    readme = (site / "press-line-3-scratches-v1" / "README.txt").read_text()

    env = _fresh_environment(tmp_path / "venv")
    install = _readme_line(readme, "pip install")
    assert install == f"pip install {wheel_name}"
    installed = _shell(install, cwd=site, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    images = _image_folder(tmp_path / "new-images", 3)
    run = _shell(_readme_line(readme, "tuning predict").replace("/path/to/images", str(images)), cwd=site, env=env)
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
