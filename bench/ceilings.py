"""Backprop ceilings for the image side: how much adapting the image tower can give on a set, as
reference rows that are NOT forward-only and are no product method.

Every row starts from the linear probe (tuning.methods.linear_probe.fit_logistic on the frozen
features, its L2 strength chosen on validation) as the head on top of normalised image features,
then trains by backpropagation with AdamW (no weight decay, so frozen entries stay put):

- full: every weight of the image tower and the head;
- sparse (SPT-style): sensitivity from gradients (the squared gradient of the training loss summed
  over the training set at the start), the top `--sparse-fraction` of the tower's entries trained
  freely, the rest frozen, and the head;
- lora: rank-r updates B A (B = 0 at the start) on the attention (in- and out-projections) and MLP
  weights of every block, and the head.

The learning rate and the epoch (0 = the probe itself) are chosen on validation balanced accuracy;
the test split is read once per row, for the chosen state. Paired by seed against the probe with the
protocol's interval (bench/protocol.py).

    python -m bench ceilings --sets neu-det,xsdd --seeds 0,1,2,3,4 [--epochs 12] [--rows full,sparse,lora]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrize

from .common import load_line, table, write
from .protocol import dataset_folders, describe

# The grid that found headroom (tuning/README.md): a shorter, lower one (6 epochs, batch 32, rates 3 to 10 times
# lower) chose its highest rate and late epochs, and found none on test.
LEARNING_RATES = {"full": (1e-4, 3e-4), "sparse": (1e-3, 3e-3), "lora": (1e-3, 3e-3)}


class Classifier(nn.Module):
    """logits = head(normalised tower features): the probe's form, with the tower trainable."""

    def __init__(self, tower: nn.Module, weight: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.tower = tower
        self.head = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(weight)
            self.head.bias.copy_(bias)

    def forward(self, x):
        return self.head(F.normalize(self.tower(x), dim=-1))


class LowRank(nn.Module):
    """W + B A as a parametrization of W; B starts at zero, so the start is the frozen tower."""

    def __init__(self, out_features: int, in_features: int, rank: int):
        super().__init__()
        self.A = nn.Parameter(torch.randn(rank, in_features) / in_features ** 0.5)
        self.B = nn.Parameter(torch.zeros(out_features, rank))

    def forward(self, W):
        return W + self.B @ self.A


def add_lora(tower: nn.Module, rank: int) -> list[nn.Parameter]:
    """LoRA on every attention in-projection, attention out-projection and MLP linear of the tower."""
    targets = []
    for module in tower.modules():
        if isinstance(module, nn.MultiheadAttention):
            targets.append((module, "in_proj_weight"))
        elif isinstance(module, nn.Linear):
            targets.append((module, "weight"))
    params = []
    for module, name in targets:
        out_f, in_f = getattr(module, name).shape
        lora = LowRank(out_f, in_f, rank)
        parametrize.register_parametrization(module, name, lora)
        params += [lora.A, lora.B]
    return params


def sensitivity_masks(model: Classifier, x: torch.Tensor, y: torch.Tensor, fraction: float,
                      batch: int) -> dict[str, torch.Tensor]:
    """SPT's rule: squared gradients summed over the training set; the top `fraction` of entries."""
    scores = {n: torch.zeros_like(p) for n, p in model.tower.named_parameters()}
    for s in range(0, len(x), batch):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[s:s + batch].float()), y[s:s + batch], reduction="sum").backward()
        for n, p in model.tower.named_parameters():
            if p.grad is not None:
                scores[n] += p.grad.detach() ** 2
    flat = torch.cat([v.flatten() for v in scores.values()])
    keep = max(1, int(fraction * flat.numel()))
    threshold = flat.topk(keep).values.min()
    return {n: (v >= threshold).float() for n, v in scores.items()}


def balanced_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, K: int, batch: int) -> float:
    from tuning.quality import balanced_accuracy_of
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[s:s + batch].float()).argmax(1) for s in range(0, len(x), batch)])
    return balanced_accuracy_of(y.tolist(), pred.tolist(), K)


def train_row(row: str, start: Classifier, train, val, *, lr: float, epochs: int, batch: int, seed: int,
              sparse_fraction: float, lora_rank: int) -> tuple[float, int, dict]:
    """(best validation balanced accuracy, its epoch, its state, the model) for one row at one learning rate."""
    torch.manual_seed(seed)
    model = copy.deepcopy(start)
    (x, y), (xv, yv), K = train, val, start.head.out_features
    if row not in LEARNING_RATES:
        raise ValueError(f"unknown row {row!r}")
    # The backbone's tower comes frozen (requires_grad False: the product never trains it), so each row says
    # what it trains; forgetting it once left the tower untouched and the full and sparse rows equal to the probe.
    for p in model.tower.parameters():
        p.requires_grad_(row != "lora")
    for p in model.head.parameters():
        p.requires_grad_(True)
    masks = sensitivity_masks(model, x, y, sparse_fraction, batch) if row == "sparse" else None
    params = add_lora(model.tower, lora_rank) if row == "lora" else list(model.tower.parameters())
    params += list(model.head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    best = (balanced_accuracy(model, xv, yv, K, batch), 0, copy.deepcopy(model.state_dict()))
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        model.train()
        for idx in torch.randperm(len(x), generator=gen).split(batch):
            loss = F.cross_entropy(model(x[idx].float()), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if masks is not None:
                for n, p in model.tower.named_parameters():
                    if p.grad is not None:
                        p.grad.mul_(masks[n])
            opt.step()
        acc = balanced_accuracy(model, xv, yv, K, batch)
        if acc > best[0]:  # ties keep the earlier epoch
            best = (acc, epoch, copy.deepcopy(model.state_dict()))
    return best[0], best[1], best[2], model


def pixels(bb, paths: list[str], cache: dict) -> torch.Tensor:
    """Preprocessed images (float16 to halve the memory), each decoded once per set."""
    from PIL import Image
    out = []
    for p in paths:
        if p not in cache:
            with Image.open(p) as im:
                cache[p] = bb.preprocess(im.convert("RGB")).half()
        out.append(cache[p])
    return torch.stack(out)


def probe_start(bb, data) -> Classifier:
    """The tower and the linear probe's head, its L2 strength chosen on validation."""
    from tuning.methods.linear_probe import L2_STRENGTHS, fit_logistic
    from tuning.quality import balanced_accuracy_of
    K = len(data.class_names)
    best = None
    for l2 in L2_STRENGTHS:
        W, b = fit_logistic(data.train.features, data.train.labels, K, l2=l2, steps=500)
        acc = balanced_accuracy_of(data.val.labels.tolist(), (data.val.features @ W.T + b).argmax(1).tolist(), K)
        if best is None or acc > best[0]:
            best = (acc, W, b)
    tower = copy.deepcopy(bb.model.visual).float().cpu()
    return Classifier(tower, best[1], best[2])


def main(argv=None):
    import tuning
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="neu-det,xsdd,bsd_pitting,demo")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--rows", default="full,sparse,lora")
    ap.add_argument("--backbone", default="demo")
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--sparse-fraction", type=float, default=0.005, help="as the product's param_budget")
    ap.add_argument("--lora-rank", type=int, default=4)
    ap.add_argument("--name", default="demo")
    ap.add_argument("--lr", action="append", default=[], metavar="ROW=LR1/LR2",
                    help="learning rates a row chooses among on validation (default: LEARNING_RATES)")
    ap.add_argument("--validation-only", action="store_true", help="never read the test split")
    ap.add_argument("--cache-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "tuning-bench-cache"))
    args = ap.parse_args(argv)
    seeds, rows = [int(s) for s in args.seeds.split(",")], args.rows.split(",")
    rates = {**LEARNING_RATES, **{r: tuple(float(v) for v in lrs.split("/"))
                                  for r, lrs in (item.split("=", 1) for item in args.lr)}}
    folders, absent = dataset_folders(args.sets.split(","), args.cache_dir)
    if not folders:
        print(f"ceilings skipped: no dataset present ({', '.join(absent)})")
        return None
    bb = tuning.load_backbone(args.backbone, device="cpu")
    t0, cpu0, load_start = time.perf_counter(), time.process_time(), load_line()
    results = {}  # (set, row, seed) -> (val, test, chosen lr, chosen epoch, seconds)

    def flush(progress: str) -> str:
        sections = []
        for name in folders:
            lines = []
            for row in ["probe", *rows]:
                got = [results[(name, row, s)] for s in seeds if (name, row, s) in results]
                if not got:
                    continue
                paired = [s for s in seeds if (name, row, s) in results and (name, "probe", s) in results]
                base = [results[(name, "probe", s)] for s in paired]
                mine = [results[(name, row, s)] for s in paired]
                paired_rows = row != "probe" and len(paired) > 1
                vd = describe([b[0] for b in base], [m[0] for m in mine]) if paired_rows else ("-", "-")
                tested = not args.validation_only and row != "probe" and len(paired) > 1
                td = describe([b[1] for b in base], [m[1] for m in mine]) if tested else ("-", "-")
                test_mean = "-" if args.validation_only else f"{100 * statistics.mean(g[1] for g in got):.1f}"
                lines.append([row, len(got), f"{100 * statistics.mean(g[0] for g in got):.1f}", *vd, test_mean, *td,
                              " / ".join(f"{g[2]:g}@{g[3]}" for g in got), f"{statistics.mean(g[4] for g in got):.0f}"])
            if lines:
                sections.append(f"### {name}\n\n" + table(
                    ["row", "seeds", "val bal. acc %", "val diff vs probe (95%)", "val verdict", "test bal. acc %",
                     "test diff vs probe (95%)", "test verdict", "chosen lr@epoch per seed", "CPU s per row"], lines))
        body = (f"Backbone `{bb.id}` on the CPU, {args.shots} shots, seeds {seeds}, up to {args.epochs} epochs, "
                f"batch {args.batch}, learning rates {rates}, sparse fraction {args.sparse_fraction}, "
                f"LoRA rank {args.lora_rank}. Sets present: {', '.join(folders)}"
                + (f"; absent: {', '.join(absent)}" if absent else "")
                + ". Backpropagation: reference rows, not forward-only. Learning rate and epoch (0 = the probe) "
                "chosen on validation balanced accuracy; test read once per row for the chosen state.\n\n"
                f"Progress: {progress}. Wall {time.perf_counter() - t0:.0f} s, CPU {time.process_time() - cpu0:.0f} s, "
                f"load average (1/5/15 min) {load_start} at the start, {load_line()} now.\n\n" + "\n\n".join(sections))
        return write(f"ceilings_{args.name}", "Backprop ceilings for the image side (reference, not forward-only)",
                     body)

    for seed in seeds:
        for name, folder in folders.items():
            cache = {}
            data = tuning.load_image_folder(folder, backbone=bb, shots=args.shots, seed=seed, cache_dir=args.cache_dir)
            K = len(data.class_names)
            train = (pixels(bb, data.train.paths, cache), data.train.labels)
            val = (pixels(bb, data.val.paths, cache), data.val.labels)
            start = probe_start(bb, data)
            test = None  # decoded only once the rows have chosen their states
            chosen = {"probe": (None, 0, start.state_dict(), start)}
            for row in rows:
                cpu = time.process_time()
                best = None
                for lr in rates[row]:
                    acc, epoch, state, model = train_row(row, start, train, val, lr=lr, epochs=args.epochs,
                                                         batch=args.batch, seed=seed,
                                                         sparse_fraction=args.sparse_fraction, lora_rank=args.lora_rank)
                    if best is None or acc > best[0]:
                        best = (acc, lr, epoch, state, model)
                best[4].load_state_dict(best[3])
                chosen[row] = (best[1], best[2], best[3], best[4], time.process_time() - cpu)
            if not args.validation_only:  # the one read of the test split, after every choice is made
                test = (pixels(bb, data.test.paths, cache), data.test.labels)
            for row, (lr, epoch, _, model, *spent) in chosen.items():
                results[(name, row, seed)] = (balanced_accuracy(model, *val, K, args.batch),
                                              balanced_accuracy(model, *test, K, args.batch) if test else float("nan"),
                                              lr or 0, epoch, spent[0] if spent else 0.0)
            del cache, train, val, test, chosen
            flush(f"{name} seed {seed} done")
    return flush("complete")


if __name__ == "__main__":
    main()
