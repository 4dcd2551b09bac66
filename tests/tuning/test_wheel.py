"""`tuning` is an installable package. The wheel is built from pyproject.toml the
way the README says (offline: the build uses the setuptools already installed), holds the `tuning`
package alone (with the demo backbone's weights, never the dashboard), and installed into a fresh
virtual environment it gives a working `tuning` command."""

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(argv, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kwargs)


def test_the_wheel_holds_tuning_alone_and_installs_a_working_tuning_command(tmp_path):
    source = tmp_path / "src"  # a copy: building must not write into the checkout
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "tuning", source / "tuning", ignore=shutil.ignore_patterns("__pycache__"))
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist",
                  source])
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("tuning-*-py3-none-any.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"tuning", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "tuning/demo_backbone/weights/demo_vit.safetensors" in names and "tuning/__main__.py" in names
    # Every demo version: an adapter made on the first demo backbone needs its weights on the line PC.
    v1 = "tuning/demo_backbone/weights/v1"
    assert {f"{v1}/demo_vit.safetensors", f"{v1}/card.json"} <= set(names)

    env = tmp_path / "line-pc"
    assert _run([sys.executable, "-m", "venv", "--without-pip", env]).returncode == 0
    # The heavy dependencies (torch, open_clip, ...) come from this test run's environment, as a
    # wheelhouse or PyPI would give them; `tuning` itself only from the wheel.
    env_site = next(env.glob("lib/python*/site-packages"))
    (env_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", env / "bin" / "python", "install", "--no-deps",
                      "--no-index", wheel])
    assert installed.returncode == 0, installed.stderr

    clean = {"PATH": f"{env / 'bin'}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)}
    where = _run([env / "bin" / "python", "-c", "import tuning; print(tuning.__file__)"], cwd=tmp_path, env=clean)
    assert where.stdout.strip().startswith(str(env_site)), where.stdout + where.stderr
    helped = _run(["tuning", "--help"], cwd=tmp_path, env=clean)
    assert helped.returncode == 0 and "predict" in helped.stdout and "tune" in helped.stdout, helped.stderr
    refused = _run(["tuning", "predict", "--adapter", tmp_path / "nothing", "--images", tmp_path], cwd=tmp_path,
                   env=clean)
    assert refused.returncode == 2 and refused.stderr.startswith("error: "), refused.stderr
    assert os.access(env / "bin" / "tuning", os.X_OK)
