"""Memory: peak memory of a forward-only tuning step vs plain inference vs a backprop CoOp step,
at K = 10, 100, 1000 classes (ViT-B-32 text tower, random weights).

Each measurement runs in a fresh subprocess after the backbone and the cached image features are
loaded, and reports two figures:
- whole: the peak of everything the process holds during the operation (weights, features and the
  operation's own buffers): what a site's machine must have;
- added: that peak minus what was held just before the operation: the operation's own buffers.
On CUDA both come from torch.cuda.max_memory_allocated; on the CPU from the resident set size
(Linux VmHWM, reset through /proc/self/clear_refs).
- inference: the K class text features once (what deployment needs);
- forward-only: one stage-2 ZO-SGD step (2 queries) plus a validation evaluation (1 query);
- CoOp: one forward + backward over the K prompts (activations kept for backpropagation).
With `--adapt sparse`, a whole sparse-adapter job against inference instead (bench/memory_sparse.py).
Forward-only and inference run the prompts in chunks of `text_batch_size` (256) prompts.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch

from .common import class_names, random_backbone, table, write

MODES = ("inference", "forward-only", "coop")


def _rss(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def measure_one(mode: str, K: int, arch: str, device: str) -> dict:
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    import torch.nn.functional as F

    from tuning import TuneConfig
    from tuning.backbones.prompts import PromptLearner
    from tuning.data import FewShotData, Split
    from tuning.methods import estimators
    from tuning.objective import Objective
    bb = random_backbone(arch, device)
    cuda = bb.device.type == "cuda"
    cfg = TuneConfig()
    g = torch.Generator().manual_seed(0)
    def split(n):
        y = torch.arange(K).repeat(n)
        return Split(F.normalize(torch.randn(len(y), bb.embed_dim, generator=g), dim=-1), y)
    data = FewShotData(class_names(K), split(16), split(1), split(1), backbone_id=bb.id)
    learner = PromptLearner(bb, data.class_names, intrinsic_dim=cfg.intrinsic_dim, chunk_rows=cfg.text_batch_size)
    obj = Objective(learner, data, budget=10**9)
    _ = learner.A
    w = torch.zeros(cfg.intrinsic_dim, dtype=torch.float64)

    def op():
        if mode == "inference":
            learner.zero_shot_features()
        elif mode == "forward-only":
            gen = torch.Generator().manual_seed(0)
            gr, _ = estimators.rge(obj.losses, w, cfg.mu, 1, gen)
            obj.evaluate(w - cfg.lr * gr)
        else:
            p = torch.zeros(cfg.intrinsic_dim, device=bb.device, requires_grad=True)
            T = learner.features_from_contexts(learner.contexts(p[None]), grad=True)[0]
            F.cross_entropy(obj.scale * obj.train_z @ T.T, obj.train_y).backward()

    if cuda:
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        op()
        torch.cuda.synchronize()
        whole = torch.cuda.max_memory_allocated()
    else:
        before = _rss("VmRSS")
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current RSS
        op()
        whole = _rss("VmHWM")
    return {"mode": mode, "K": K, "whole_bytes": int(whole), "added_bytes": int(whole - before),
            "device": bb.device.type}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--adapt" in argv or any(a.startswith("--adapt=") for a in argv):  # a sparse job against inference
        from .memory_sparse import main as sparse_main
        return sparse_main(argv)
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="ViT-B-32")
    ap.add_argument("--classes", default="10,100,1000")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--one", nargs=2, metavar=("MODE", "K"))
    args = ap.parse_args(argv)
    if args.one:
        print("RESULT " + json.dumps(measure_one(args.one[0], int(args.one[1]), args.arch, args.device)))
        return
    results = {}
    device_type = "cpu"
    for K in [int(k) for k in args.classes.split(",")]:
        for mode in MODES:
            cmd = [sys.executable, "-W", "ignore", "-m", "bench.memory", "--arch", args.arch, "--device", args.device,
                   "--one", mode, str(K)]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if not line:
                results[(mode, K)] = None
                print(f"{mode} K={K} failed: {out.stderr[-500:]}", file=sys.stderr)
                continue
            r = json.loads(line[0][7:])
            device_type = r["device"]
            results[(mode, K)] = r
            print(f"{mode:>13} K={K:5d}: whole {r['whole_bytes'] / 2**20:9.1f} MiB, "
                  f"added {r['added_bytes'] / 2**20:9.1f} MiB", file=sys.stderr)

    def rows(key):
        out = []
        for K in [int(k) for k in args.classes.split(",")]:
            got = {mode: (results.get((mode, K)) or {}).get(key) for mode in MODES}
            row = [K] + [f"{v / 2**20:.1f}" if v is not None else "failed" for v in got.values()]
            inf = got["inference"]
            row += [f"{got[m] / inf:.2f}" if got[m] and inf else "-" for m in ("forward-only", "coop")]
            out.append(row)
        return out

    head = ["K classes", "inference MiB", "forward-only step MiB", "CoOp step MiB",
            "forward-only / inference", "CoOp / inference"]
    source = "torch.cuda.max_memory_allocated" if device_type == "cuda" else "resident set size (VmHWM)"
    body = (f"{args.arch} text tower (random weights), 16 cached image features per class, d = 128, "
            f"prompts chunked by 256 for the forward-only paths; {source}, a fresh process each.\n\n"
            "Whole peak (weights, features and the operation's buffers: what the machine must have):\n\n"
            + table(head, rows("whole_bytes"))
            + "\n\nAdded by the operation (its peak above what was held just before it):\n\n"
            + table(head, rows("added_bytes")))
    return write(f"memory_{device_type}", "Memory: forward-only tuning vs inference vs backprop CoOp", body)


if __name__ == "__main__":
    main()
