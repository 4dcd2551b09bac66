"""python -m bench [speed|memory|quality|claims|quality_sparse|speed_sparse|sweep|gpu|web|auto|all] [extra args for that benchmark]

`all` runs speed, memory and quality; `sweep` (choosing a setting on the validation split) needs its own
arguments: python -m bench sweep --method zosgd --grid lr=1,3,10
"""
import sys

import torch


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    rest = sys.argv[2:]
    torch.set_num_threads(torch.get_num_threads())
    if which in ("speed", "all"):
        from .speed import main as speed
        speed(rest if which == "speed" else [])
    if which in ("memory", "all"):
        from .memory import main as memory
        memory(rest if which == "memory" else [])
    if which in ("quality", "all"):
        from .quality import main as quality
        quality(rest if which == "quality" else [])
    if which == "sweep":
        from .sweep import main as sweep
        sweep(rest)
    if which == "claims":
        from .claims import main as claims
        claims(rest)
    if which == "quality_sparse":
        from .quality_sparse import main as quality_sparse
        quality_sparse(rest)
    if which == "speed_sparse":
        from .speed_sparse import main as speed_sparse
        speed_sparse(rest)
    if which == "auto":
        from .auto import main as auto
        auto(rest)
    if which == "gpu":
        from .gpu import main as gpu
        gpu(rest)
    if which == "web":
        from .bench_web import main as web
        web(rest)
    if which not in ("speed", "memory", "quality", "claims", "quality_sparse", "speed_sparse", "sweep", "gpu", "web", "auto", "all"):
        raise SystemExit(__doc__)


main()
