"""Helpers shared by the benchmarks: markdown tables, medians, timing with the machine's load, the random
ViT-B-32 backbone."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

# BENCH_RESULTS_DIR: elsewhere (the tests run benchmarks end to end without touching the committed results).
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).resolve().parent / "results")


def table(headers: list[str], rows: list[list]) -> str:
    def fmt(x):
        return f"{x:.4g}" if isinstance(x, float) else str(x)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def write(name: str, title: str, body: str) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = f"# {title}\n\n{machine()}\n\n{body}\n"
    (RESULTS / f"{name}.md").write_text(text)
    print(text)
    return text


def machine() -> str:
    """The header of every result file: seconds measured on a shared machine mean little without its load."""
    dev = (torch.cuda.get_device_name() if torch.cuda.is_available()
           else f"CPU ({platform.processor() or platform.machine()})")
    return (f"Machine: {dev}; torch {torch.__version__}; {torch.get_num_threads()} CPU threads; "
            f"measured {time.strftime('%Y-%m-%d %H:%M')}; load average (1/5/15 min) {load_line()} when written.")


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass
class Timing:
    load: float  # 1-minute load average as the block started
    wall_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU seconds (all its threads)


@contextmanager
def timed():
    """Wall and CPU seconds of the block, and the load it ran at: CPU seconds and the load say how much of
    the wall time was the work and how much was waiting for a shared machine."""
    timing = Timing(load=os.getloadavg()[0])
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield timing
    finally:
        timing.wall_s, timing.cpu_s = time.perf_counter() - wall, time.process_time() - cpu


def peak_rss() -> int:
    """This process's resident set size high-water mark (Linux VmHWM), in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM")


def run_fresh(module: str, argv: list[str], what: str) -> dict | None:
    """`python -m <module> <argv>` in a fresh process: the JSON it prints after 'RESULT ', or None when it
    failed (its error, named by `what`, goes to stderr)."""
    cmd = [sys.executable, "-W", "ignore", "-m", module, *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if not line:
        print(f"{what} failed: {done.stderr[-1500:]}", file=sys.stderr)
        return None
    return json.loads(line[0][len("RESULT "):])


def median_time(fn, repeats: int, sync=None) -> float:
    times = []
    for _ in range(repeats):
        if sync:
            sync()
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved_medians(fns: dict, repeats: int, sync=None) -> dict:
    """{name: median seconds} of each function, the repeats interleaved (one of each in turn), so every
    variant sees the same machine load and the same warm or cold device."""
    times: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(median_time(fn, 1, sync))
    return {name: statistics.median(t) for name, t in times.items()}


def random_backbone(arch: str = "ViT-B-32", device: str = "auto"):
    """An open_clip architecture with random weights, registered as 'random-<arch>'."""
    import tuning

    def loader(dev):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import open_clip
        torch.manual_seed(0)
        model = open_clip.create_model(arch, pretrained=None)
        preprocess = open_clip.image_transform(model.visual.image_size, is_train=False)
        return model, preprocess, open_clip.get_tokenizer(arch), f"random-{arch}-seed0"

    name = f"random-{arch}"
    if name not in {b.id for b in tuning.list_backbones()}:  # registering again would drop the loaded model
        tuning.register_backbone(name, loader, label=f"{arch} (random weights)")
    return tuning.load_backbone(name, device=device)


def class_names(K: int) -> list[str]:
    words = ["scratch", "dent", "crack", "stain", "burr", "pit", "bubble", "chip", "warp", "rust", "hole", "fold"]
    return [f"{words[k % len(words)]} type {k}" for k in range(K)]
