"""python -m bench NAME [extra args for that benchmark], NAME one of the table below; `all` runs speed, memory
and quality with their defaults. `sweep` (choosing a setting on the validation split) needs its own
arguments: python -m bench sweep --method zosgd --grid lr=1,3,10
"""
import importlib
import sys

BENCHMARKS = {  # name -> the module of bench/ whose main(argv) runs it
    "speed": "speed",
    "memory": "memory",
    "quality": "quality",
    "sweep": "sweep",
    "claims": "claims",
    "protocol": "protocol",
    "cma_covariance": "cma_covariance",
    "many_classes": "many_classes",
    "ceilings": "ceilings",
    "quality_sparse": "quality_sparse",
    "speed_sparse": "speed_sparse",
    "gpu": "gpu",
    "web": "bench_web",
    "slow-clients": "bench_slow_clients",
    "rehearsal": "rehearsal",
    "auto": "auto",
    "estimates": "estimates",
    "threads": "threads",
}
ALL = ("speed", "memory", "quality")


def main(argv: list[str]) -> None:
    which, rest = (argv[0], argv[1:]) if argv else ("all", [])
    if which == "all":
        for name in ALL:
            importlib.import_module(f"bench.{BENCHMARKS[name]}").main([])
    elif which in BENCHMARKS:
        importlib.import_module(f"bench.{BENCHMARKS[which]}").main(rest)
    else:
        raise SystemExit(__doc__ + "\nbenchmarks: " + ", ".join([*BENCHMARKS, "all"]))


main(sys.argv[1:])
