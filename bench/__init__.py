"""Benchmarks of the tuner: speed, memory, quality. Run `python -m bench [speed|memory|quality|all]`."""
