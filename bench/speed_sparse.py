"""Speed of an adapt='sparse' query's image side: the training images through the changed
image tower, with feature reuse (cached activations entering the first tuned block) against a full
image-tower forward, the seeded projection's memory, and a CMA-ES generation's candidates run in one
call against one call each (bench/speed_generation.py).

    python -m bench speed_sparse [--backbone demo] [--images 96] [--repeats 5] [--candidates 8]
"""
from __future__ import annotations

import argparse
import functools

import torch

import tuning
from tuning.sparse.image_reuse import CachedTower
from tuning.sparse.param_groups import vision_blocks, vision_parameter_count
from tuning.sparse.vision_delta import VisionDelta, encode_with_delta, overrides

from .common import median_time, table, write
from .speed_generation import generation_rows


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="demo")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--candidates", type=int, default=8, help="a generation's candidates (popsize; CPU bench: 8)")
    ap.add_argument("--generation-only", action="store_true", help="only the generation table")
    args = ap.parse_args(argv)
    bb = tuning.load_backbone(args.backbone, device=args.device)
    model = bb.model
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    px = torch.randn(args.images, 3, size, size, device=bb.device)
    blocks = len(vision_blocks(model))
    params = dict(model.named_parameters())
    sync = torch.cuda.synchronize if bb.device.type == "cuda" else None
    generation = generation_rows(bb, px, firsts=[max(0, blocks - 2), blocks - 1], candidates=args.candidates,
                                 repeats=args.repeats)
    rows = []
    for first in ([] if args.generation_only else range(blocks + 1)):
        # a change in block `first` (its MLP bias) and the projection, as a placed delta would have
        names = [f"visual.transformer.resblocks.{first}.mlp.c_fc.bias"] if first < blocks else []
        names.append("visual.proj")
        chosen = {n: torch.arange(params[n].numel()) for n in names}
        delta = VisionDelta(model, chosen, 64, seed=0, scale=0.1)
        changed = overrides(model, delta.split(delta.values(torch.randn(1, 64))[0]))
        tower = CachedTower(model, px, first)
        t_reuse = median_time(functools.partial(tower.features, changed), args.repeats, sync)
        t_full = median_time(lambda d=delta: encode_with_delta(bb, d.split(d.values(torch.randn(1, 64))[0]), px),
                             args.repeats, sync)
        rows.append([first, blocks - first, f"{1000 * t_reuse:.1f}", f"{1000 * t_full:.1f}",
                     f"{t_full / t_reuse:.1f}x"])
    budget = round(0.005 * vision_parameter_count(model))
    head = f"Backbone `{bb.id}`, {args.images} images, device {bb.device}, median of {args.repeats}."
    body = head if args.generation_only else (f"Backbone `{bb.id}`, {args.images} images, device {bb.device}, median "
                                              f"of {args.repeats}. One query's "
            f"image side: the training images through the image tower with the change applied.\n\n"
            + table(["first tuned block", "blocks run", "with reuse (ms)", "full forward (ms)", "saving"], rows)
            + f"\n\nSeeded projection A_v at param_budget 0.5% ({budget:,} parameters) and vision_dim 64: "
              f"{budget * 64 * 4 / 2**20:.1f} MiB if held whole (held whole up to 64 MiB, else generated in chunks "
              f"of 65,536 rows: {min(budget, 65536) * 64 * 4 / 2**20:.1f} MiB at a time).")
    body += (f"\n\nA CMA-ES generation of {args.candidates} candidates (the image delta in the first tuned block's MLP "
             f"weights and the projection; the loss of each, {args.images} training images), time per candidate, "
             f"median of {args.repeats} taken in turns; the three give equal losses (checked):\n\n"
             + table(["first tuned block", "one call per candidate, before (ms)", "one call per generation, now (ms)",
                      "stacked, torch.func.vmap (ms)", "before / now", "stacked / now"], generation))
    name = f"speed_sparse{'_generation' if args.generation_only else ''}_{bb.device.type}"
    return write(name, "Speed: an adapt='sparse' query's image side", body)


if __name__ == "__main__":
    main()
