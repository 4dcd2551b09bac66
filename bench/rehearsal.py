"""A real-size rehearsal: random-weight CLIP checkpoints of real architectures (both towers at their real
sizes, built as `<arch>:openai` weights are: QuickGELU) through the whole worker path, in one process per
step, on SQLite: a zip upload ingested, a job run by the worker's own `job_execute` (the code a Celery
worker runs, with this machine's worker settings), its adapter stored as a version, and a `predict` with
that adapter. Random weights: the figures are time and memory, never accuracy.

    .venv/bin/python -m bench rehearsal --arch ViT-B-16 --arch ViT-L-14 --budget 30
    WORKER_KIND=gpu python3 -m bench rehearsal --device cuda ...     # what bin/gpu-bench rehearsal runs

Per architecture: the backbone's loading (peak memory and seconds; a worker keeps it loaded between jobs),
then, from the loaded backbone on, the peak memory of the job's process against that of a process that only
predicts (classify the images: what a line PC needs), seconds per query while tuning, seconds from the job's
start to its first plot point (what the user waits for on the job page), seconds per image when predicting.
Peaks are resident memory (VmHWM) on the CPU, torch's allocated memory on a GPU. The broker is left out (each step
is called in-process, as a worker would on delivery).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .common import table, write

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("scratch", "dent", "pitting")


def _django(var_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ["WEBAPP_VAR_DIR"] = var_dir
    os.environ.pop("DATABASE_URL", None)  # SQLite in var_dir
    import django
    django.setup()
    # No broker in a rehearsal: every step below is run in this process, as a worker runs it on delivery.
    import webapp.datasets.services as datasets
    import webapp.jobs.services as jobs
    datasets.ingestion_send_after_commit = jobs.job_send_after_commit = lambda *a, **k: None


def _peak_mib() -> float:
    """The process's resident peak (Linux VmHWM; since the last `_reset_peak`)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> float:
    """Start the peak again from what the process holds now (the backbone loaded: loading's own transient
    copies are not what a job or a prediction needs); returns the peak so far."""
    import torch
    before = _peak_mib()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    return round(before)


def _cuda_peak_mib() -> float | None:
    import torch
    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


# ---------------------------------------------------------------------------- steps (child processes)

def step_weights(arch: str, path: str) -> dict:
    """Random weights of the real architecture, written as open_clip safetensors in fp16 (as the hub's are)."""
    import torch
    from safetensors.torch import save_file

    from tuning.backbones.open_clip_files import open_clip_module
    torch.manual_seed(0)
    model = open_clip_module().create_model(arch, device="cpu")
    params = sum(p.numel() for p in model.parameters())
    save_file({k: v.half().contiguous() for k, v in model.state_dict().items()}, path)
    return {"parameters": params, "image_parameters": sum(p.numel() for p in model.visual.parameters())}


def step_setup(images_per_class: int) -> dict:
    """A user, a workspace and a dataset uploaded as a zip and ingested."""
    import io
    import zipfile

    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from PIL import Image

    from webapp.accounts.models import Membership, Workspace
    from webapp.datasets.services import dataset_upload_create, dataset_version_ingest
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("rehearsal", password="rehearsal-password")
    workspace = Workspace.objects.create(name="Rehearsal line")
    Membership.objects.create(user=user, workspace=workspace)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for k, name in enumerate(CLASSES):
            for i in range(images_per_class):
                rng = np.random.default_rng([k, i])
                pixels = rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8)
                png = io.BytesIO()
                Image.fromarray(pixels).save(png, format="PNG")
                archive.writestr(f"{name}/{i}.png", png.getvalue())
    version = dataset_upload_create(user=user, workspace=workspace, name="rehearsal",
                                    upload=ContentFile(buffer.getvalue(), name="rehearsal.zip"))
    version = dataset_version_ingest(version_id=version.pk)
    return {"dataset_version": version.pk, "status": version.status, "images": len(CLASSES) * images_per_class}


def step_job(backbone: str, dataset_version: int, method: str, budget: int, shots: int, device: str) -> dict:
    """A job as the form launches it, run by the worker's own job_execute."""
    import torch
    from django.contrib.auth import get_user_model

    from tuning import load_backbone
    from webapp.datasets.models import DatasetVersion
    from webapp.jobs.models import MetricPoint
    from webapp.jobs.services import job_create
    from webapp.worker.execution import job_execute
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", str(torch.get_num_threads()))))
    started = time.perf_counter()
    load_backbone(backbone, device=device)  # cached per process: the job finds it loaded, as on a warm worker
    load_s, load_peak = time.perf_counter() - started, _reset_peak()
    user = get_user_model().objects.get(username="rehearsal")
    job = job_create(user=user, dataset_version=DatasetVersion.objects.get(pk=dataset_version),
                     config={"backbone": backbone, "method": method, "budget": budget, "shots": shots,
                             "device": device, "eval_every": 5})
    first_point: dict = {}
    start = time.perf_counter()
    done = threading.Event()

    def watch():  # the job page's view: when does the first point of the curve exist?
        from django.db import connection
        while not done.is_set():
            if MetricPoint.objects.filter(job_id=job.pk).exists():
                first_point["s"] = time.perf_counter() - start
                break
            time.sleep(0.2)
        connection.close()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    outcome = job_execute(job_id=job.pk, worker=f"rehearsal-{os.environ.get('WORKER_KIND', 'cpu')}@local")
    wall = time.perf_counter() - start
    done.set()
    watcher.join(timeout=5)
    job.refresh_from_db()
    last = MetricPoint.objects.filter(job_id=job.pk).order_by("-seq").first()
    version = job.adapter_versions.order_by("-number").first()
    return {"job": job.pk, "outcome": outcome, "load_s": round(load_s, 1), "load_peak_mib": load_peak,
            "error": job.error, "wall_s": round(wall, 1),
            "worker_seconds": round(job.worker_seconds or 0, 1), "queries": last.queries if last else 0,
            "tuning_s": round(last.elapsed_s, 1) if last and last.elapsed_s else None,
            "first_point_s": round(first_point["s"], 1) if "s" in first_point else None,
            "peak_mib": round(_peak_mib()), "cuda_peak_mib": _cuda_peak_mib(),
            "adapter_version": version.pk if version else None}


def step_predict(backbone: str, adapter_version: int, device: str) -> dict:
    """What a line PC runs: the stored adapter and the backbone, classifying every image of the dataset."""
    import torch

    from tuning import load_adapter, load_backbone, predict
    from webapp.adapters.files import write_to_directory
    from webapp.adapters.models import AdapterVersion
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", str(torch.get_num_threads()))))
    version = AdapterVersion.objects.get(pk=adapter_version)
    with tempfile.TemporaryDirectory() as folder:
        adapter = load_adapter(write_to_directory(version, Path(folder) / "adapter"))
        images = sorted(str(p) for p in (Path(os.environ["WEBAPP_VAR_DIR"])).rglob("*.png"))[:24]
        bb = load_backbone(backbone, device=device)
        _reset_peak()
        predict(adapter, bb, images[:1])  # warm-up
        start = time.perf_counter()
        predict(adapter, bb, images)
        per_image = (time.perf_counter() - start) / max(1, len(images))
    return {"peak_mib": round(_peak_mib()), "cuda_peak_mib": _cuda_peak_mib(), "s_per_image": round(per_image, 3),
            "images": len(images)}


STEPS = {"weights": step_weights, "setup": step_setup, "job": step_job, "predict": step_predict}


def _child(var_dir: str, step: str, **kwargs) -> dict:
    """Run one step in a fresh process, so its peak memory is its own."""
    code = ("import json,sys; from bench import rehearsal as r; r._django(sys.argv[1]); "
            "print('RESULT ' + json.dumps(r.STEPS[sys.argv[2]](**json.loads(sys.argv[3]))))")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code, var_dir, step, json.dumps(kwargs)],
                         cwd=ROOT, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"step {step} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench rehearsal", description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", action="append", help="open_clip architecture (repeat; default ViT-B-16 and ViT-L-14)")
    p.add_argument("--method", default="cmaes", help="tuning method (CMA-ES, the job form's first choice)")
    p.add_argument("--budget", type=int, default=30, help="queries per job (small: a rehearsal, not a tuning)")
    p.add_argument("--shots", type=int, default=2)
    p.add_argument("--images-per-class", type=int, default=6)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None, help="results file name (default rehearsal_<worker kind>.md)")
    args = p.parse_args(argv)
    archs = args.arch or ["ViT-B-16", "ViT-L-14"]
    kind = os.environ.get("WORKER_KIND", "cpu")
    rows = []
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as work:
        var_dir = str(Path(work) / "var")
        setup = _child(var_dir, "setup", images_per_class=args.images_per_class)
        print("setup", setup, flush=True)
        for arch in archs:
            weights = str(Path(work) / f"{arch}.safetensors")
            sizes = _child(var_dir, "weights", arch=arch, path=weights)
            backbone = f"{arch}:openai@{weights}"
            job = _child(var_dir, "job", backbone=backbone, dataset_version=setup["dataset_version"],
                         method=args.method, budget=args.budget, shots=args.shots, device=args.device)
            print(arch, "job", job, flush=True)
            pred = (_child(var_dir, "predict", backbone=backbone, adapter_version=job["adapter_version"],
                           device=args.device) if job["adapter_version"] else {})
            print(arch, "predict", pred, flush=True)
            per_query = job["tuning_s"] / job["queries"] if job.get("tuning_s") and job["queries"] else None
            memory = ("cuda_peak_mib" if args.device.startswith("cuda") else "peak_mib")
            rows.append([f"{arch} ({sizes['parameters'] / 1e6:.0f} M parameters)",
                         f"{job['outcome']}, {job['queries']} queries",
                         f"{job['load_peak_mib']} ({job['load_s']} s)", f"{job.get(memory)} / {pred.get(memory, '-')}",
                         f"{per_query:.2f}" if per_query else "-", job["first_point_s"], job["wall_s"],
                         pred.get("s_per_image", "-")])
    headers = ["backbone (random weights)", "job", "loading: peak MiB (s)", "peak MiB after loading: job / predict",
               "s / query", "first plot point (s)", "job wall (s)", "predict s / image"]
    text = table(headers, rows) + (f"\n\n{args.images_per_class} images per class x {len(CLASSES)} classes "
                                   f"(320x240 PNG), {args.method}, {args.shots} shots, budget {args.budget} queries, "
                                   f"device {args.device}, WORKER_KIND={kind}; "
                                   "SQLite, the worker's job_execute in one process, the broker left out.\n")
    write(args.out or f"rehearsal_{kind}", "Real-size rehearsal (random weights)", text)
