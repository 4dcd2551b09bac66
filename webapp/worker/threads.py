"""torch's threads in a tuning worker: its share of the machine, not every core. A worker that takes every
core fights the web server, the ingestion worker and other jobs on a shared CPU, and each step then waits
for its slowest thread (bench/results/threads_cpu.md: beside one busy process 2 threads were twice as slow
as 1). Intra-op threads are TUNING_THREADS, or the cores divided by the busy processes the deployment starts
on the machine (WORKER_PROCESSES_ON_MACHINE), at least 1; inter-op threads are 1 (a query is one chain
of operations). numpy's BLAS gets the same share: CMA-ES's eigendecompositions run there, and with every core
they fight the same processes. It matters where they dominate (an auto job on a tiny backbone with cheap
queries: 19 s against 30 s at load 4); on the demo backbone the queries dominate and `bench threads --blas
same,all` found no measurable difference (bench/results/threads_auto_cpu.md)."""

from __future__ import annotations

import os

from django.conf import settings


def tuning_threads() -> int:
    if settings.TUNING_THREADS > 0:
        return settings.TUNING_THREADS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, settings.WORKER_PROCESSES_ON_MACHINE))


def threads_set() -> int:
    """Set torch's and BLAS's threads in this process (a tuning worker's pool process, before its first job)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = tuning_threads()
    torch.set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")  # kept for the process's life (not used as a context)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work has started in this process: keep what it has
        pass
    return threads
