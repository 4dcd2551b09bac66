"""Speed: one stage-2 step and one CGE sweep against the forward-pass limit, on ViT-B-32's text
tower (random weights), K classes, measured side by side (interleaved repeats, medians).

limit   = one batched text forward of exactly the prompts the step evaluates (cut sequence, no loss,
          no estimator, no optimiser): what the step cannot beat.
ours    = the real code path (Objective.losses through the estimator, update included).
naive   = each query separately at the full 77 tokens (no batching, no cut).
The two tricks are also shown alone: per-query at the cut length, and batched at 77 tokens.
"""
from __future__ import annotations

import argparse

import torch

from tuning import TuneConfig
from tuning.backbones.prompts import PromptLearner
from tuning.data import FewShotData, Split
from tuning.methods import estimators
from tuning.objective import Objective

from .common import class_names, interleaved_medians, random_backbone, table, write


def _data(bb, K, shots=16):
    g = torch.Generator().manual_seed(0)
    def split(n):
        y = torch.arange(K).repeat(n)
        return Split(torch.nn.functional.normalize(torch.randn(len(y), bb.embed_dim, generator=g), dim=-1), y)
    return FewShotData(class_names(K), split(shots), split(4), split(4), backbone_id=bb.id)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="ViT-B-32")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--dim", type=int, default=None, help="d for the CGE sweep (default: 512 on CUDA, 8 on CPU)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    bb = random_backbone(args.arch, args.device)
    cuda = bb.device.type == "cuda"
    d = args.dim or (512 if cuda else 8)
    repeats = args.repeats or (20 if cuda else 5)
    sync = torch.cuda.synchronize if cuda else None
    K = args.classes
    cfg = TuneConfig(intrinsic_dim=d)
    learner = PromptLearner(bb, class_names(K), intrinsic_dim=d, chunk_rows=cfg.text_batch_size if not cuda else 4096)
    obj = Objective(learner, _data(bb, K), budget=10**12)
    w = torch.randn(d, dtype=torch.float64) * 0.1
    gen = torch.Generator()
    mask = (torch.rand(d) < 0.5).double()
    tower = learner.tower
    full_ids = bb.tokenizer([f"{learner.ctx_init} {c}." for c in learner.class_names]).to(bb.device)
    full_pool = tower.pool_positions(full_ids.cpu()).to(bb.device)
    with torch.no_grad():
        full_base = tower.embed_tokens(full_ids).float()

    def batched_forward(W, cut=True):
        """Only the text forward of all n*K prompts at once (the limit when cut=True)."""
        with torch.inference_mode(), learner.forward_precision():
            P = learner.contexts(torch.as_tensor(W, dtype=torch.float32))
            n = P.shape[0]
            base, ids, pool = (learner.base, learner.ids, learner.pool_pos) if cut else (full_base, full_ids, full_pool)
            for s in range(0, n * K, learner.chunk_rows):
                r = torch.arange(s, min(s + learner.chunk_rows, n * K), device=bb.device)
                x = base[r % K].clone()
                x[:, 1:1 + learner.m] = P[r // K]
                tower.encode(x, ids[r % K], pool[r % K])

    def per_query(W, cut):
        for i in range(W.shape[0]):
            batched_forward(W[i:i + 1], cut=cut)

    def zo_step():
        gen.manual_seed(1)
        g, _ = estimators.rge(obj.losses, w, 1e-3, 1, gen, mask=mask)
        return w - 1e-3 * g

    gen.manual_seed(1)
    step_points = torch.cat([w + 1e-3 * torch.randn(1, d, generator=gen), w - 1e-3 * torch.randn(1, d, generator=gen)])
    cge_points = torch.cat([w + 1e-3 * torch.eye(d), w - 1e-3 * torch.eye(d)])
    cases = {
        "stage-2 step (2 queries)": {
            "ours": zo_step,
            "limit": lambda: batched_forward(step_points),
            "batched, 77 tokens": lambda: batched_forward(step_points, cut=False),
            "per query, cut": lambda: per_query(step_points, True),
            "naive (per query, 77 tokens)": lambda: per_query(step_points, False),
        },
        f"CGE sweep (2d = {2 * d} queries)": {
            "ours": lambda: estimators.cge(obj.losses, w, 1e-3),
            "limit": lambda: batched_forward(cge_points),
            "batched, 77 tokens": lambda: batched_forward(cge_points, cut=False),
            "per query, cut": lambda: per_query(cge_points, True),
            "naive (per query, 77 tokens)": lambda: per_query(cge_points, False),
        },
    }
    rows = []
    for case, fns in cases.items():
        for fn in fns.values():  # warm-up
            fn()
        med = interleaved_medians(fns, repeats, sync)
        for name in fns:
            rows.append([case, name, med[name] * 1e3, med[name] / med["limit"],
                         med["naive (per query, 77 tokens)"] / med[name]])
    body = (f"{args.arch} text tower (random weights), K = {K} classes, prompt cut to {learner.length} of "
            f"{learner.full_length} tokens, d = {d}, chunk {learner.chunk_rows} prompts, median of {repeats}.\n"
            "Goals: ours/limit <= 1.2 and speedup over naive >= 3x.\n\n"
            + table(["case", "variant", "ms", "x limit", "speedup vs naive"], rows))
    return write(f"speed_{bb.device.type}", "Speed: forward-only steps vs the forward-pass limit", body)


if __name__ == "__main__":
    main()
