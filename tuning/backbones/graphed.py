"""Text-tower forwards at a few fixed batch sizes, each recorded once as a CUDA graph and then replayed.

Why: at small K a query's forward is a few hundred small kernels, and on a GPU the time goes to launching
them from Python, not to running them (bench/results/gpu.md: a stage-2 step at K = 10 ran at 2.8 % of an
H200's fp32 peak). A CUDA graph launches the whole recorded forward at once.

A graph replays fixed shapes on fixed buffers. The learner cuts prompts to one sequence length, so the
number of rows in a chunk is the only shape that varies: each chunk is padded up to the next power of two
(from SMALLEST_BUCKET, never past the learner's chunk size), so a handful of graphs covers every call, and
only the last chunk of a call carries padding. Padding rows repeat the chunk's first row (real, finite
values) and their outputs are dropped.

Only the plain query path uses it: no gradient (a graph records no autograd) and the backbone's own
tensors (a per-call swap of text-tower weights, adapt='sparse' with text_groups, is not what was recorded).
On the CPU nothing is captured; the padded path still runs there eagerly (`capture=False`), which is how
its padding is tested against the plain path.
"""
from __future__ import annotations

import contextlib
import logging

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from ..config import CUDA_GRAPHS

SMALLEST_BUCKET = 8  # below this a padded row costs nothing measurable and a graph per size is waste
WARMUP_RUNS = 2  # capture needs the lazy set-up (cuBLAS handles, kernel choices) done before it starts
# Ops that hand a tensor's value to Python (a condition on a tensor, .item(), a data-dependent size): a
# recorded forward never returns to Python, so a tower that does any of these cannot be captured.
HOST_READS = frozenset({"_local_scalar_dense", "is_nonzero", "item", "nonzero", "equal", "masked_select",
                        "_unique2", "unique_consecutive", "unique_dim"})

log = logging.getLogger(__name__)


class HostReads(TorchDispatchMode):
    """Records the ops of a forward that read a tensor's values on the host (HOST_READS, or a copy from the
    device to the CPU)."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name in HOST_READS or _copied_to_host(args, out):
            self.seen.add(name)
        return out


def _copied_to_host(args, out) -> bool:
    on_device = any(isinstance(a, torch.Tensor) and a.device.type != "cpu" for a in tree_leaves(args))
    return on_device and any(isinstance(o, torch.Tensor) and o.device.type == "cpu" for o in tree_leaves(out))


def host_reads(fn, *args) -> list[str]:
    """The host-reading ops fn(*args) runs (empty: nothing stops its capture in a CUDA graph)."""
    with HostReads() as spy:
        fn(*args)
    return sorted(spy.seen)


def bucket_rows(rows: int, max_rows: int) -> int:
    """The padded size of a chunk of `rows`: the next power of two from SMALLEST_BUCKET on, at most
    max_rows (a full chunk keeps its size)."""
    if rows < 1:
        raise ValueError(f"A chunk needs at least one prompt, got {rows}.")
    size = SMALLEST_BUCKET
    while size < rows:
        size *= 2
    return max(rows, min(size, max_rows))


def _numerics(device: torch.device) -> tuple:
    """What a recorded forward's kernels were chosen for, beyond shapes: the fp32 matmul mode and autocast."""
    kind = device.type
    autocast = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None
    return torch.get_float32_matmul_precision(), autocast


@contextlib.contextmanager
def _no_autocast_cache():
    """Autocast keeps the weights it cast in a cache that is emptied when its block ends; a graph recorded
    with cached casts would then read freed memory, so the casts are recorded into the graph instead."""
    before = torch.is_autocast_cache_enabled()
    torch.set_autocast_cache_enabled(False)
    try:
        yield
    finally:
        torch.set_autocast_cache_enabled(before)


class _Recorded:
    """One chunk shape's forward as a CUDA graph: static input buffers filled by copy_, the output read
    after replay."""

    def __init__(self, encode, x, ids, pool_pos, device: torch.device):
        self.inputs = (x.clone(), ids.clone(), pool_pos.clone())
        with torch.cuda.device(device), _no_autocast_cache():
            side = torch.cuda.Stream(device)  # warm-up off the main stream, as capture requires
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(WARMUP_RUNS):
                    encode(*self.inputs)
            torch.cuda.current_stream(device).wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            # The outer block gives the thread its stream back even when a failed capture does not.
            # thread_local: a worker's self-measurement records graphs in a thread beside the job loop; a
            # capture must never make the other thread's CUDA calls fail (at worst it fails itself: eager).
            with torch.cuda.stream(torch.cuda.current_stream(device)), \
                    torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self.output = encode(*self.inputs)

    def __call__(self, x, ids, pool_pos) -> torch.Tensor:
        for buffer, value in zip(self.inputs, (x, ids, pool_pos)):
            buffer.copy_(value)
        self.graph.replay()
        return self.output.clone()  # the buffer is overwritten by the next replay


class StaticShapeForward:
    """encode(x, ids, pool_pos) on padded chunks; with capture, each chunk shape's forward is recorded once
    as a CUDA graph and replayed. Where recording is impossible (the tower reads tensors on the host, or
    capture fails) it says why in `eager_because` and runs eagerly from then on: slower, never wrong."""

    def __init__(self, encode, device, max_rows: int, *, capture: bool):
        self.encode = encode
        self.device = torch.device(device)
        self.max_rows = max_rows
        self.capture = capture
        self.graphs: dict[tuple, _Recorded] = {}
        self.eager_because: str | None = None

    @property
    def state(self) -> str:
        """How the forwards run, in words (for benchmarks and logs)."""
        if not self.capture:
            return "padded, eager (no capture)"
        if self.eager_because:
            return f"eager ({self.eager_because})"
        return f"CUDA graphs ({len(self.graphs)} recorded)"

    def padded(self, rows: torch.Tensor) -> torch.Tensor:
        """A chunk's row indices padded to its bucket by repeating the first."""
        size = bucket_rows(len(rows), self.max_rows)
        return torch.cat([rows, rows[:1].expand(size - len(rows))])

    def __call__(self, x: torch.Tensor, ids: torch.Tensor, pool_pos: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            raise RuntimeError("The static-shape text forward records no gradient; a backpropagation step "
                               "must run the text tower eagerly.")
        if not self.capture or self.eager_because:
            return self.encode(x, ids, pool_pos)
        key = (tuple(x.shape), *_numerics(self.device))
        recorded = self.graphs.get(key)
        if recorded is None:
            recorded = self._record(key, x, ids, pool_pos)
            if recorded is None:
                return self.encode(x, ids, pool_pos)
        return recorded(x, ids, pool_pos)

    def _record(self, key: tuple, x, ids, pool_pos) -> _Recorded | None:
        reads = host_reads(self.encode, x, ids, pool_pos)
        if reads:
            self._give_up(f"the text tower reads tensor values on the host: {', '.join(reads)}")
            return None
        try:
            recorded = _Recorded(self.encode, x, ids, pool_pos, self.device)
        except Exception as exc:  # noqa: BLE001 - whatever broke the capture, the eager forward is still right
            self._give_up(f"capture failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
            return None
        self.graphs[key] = recorded
        return recorded

    def _give_up(self, why: str) -> None:
        self.eager_because = why
        self.graphs.clear()
        log.warning("Text-tower forwards run without CUDA graphs: %s.", why)


def static_forward(setting: str, encode, device, max_rows: int) -> StaticShapeForward | None:
    """The runner for a learner's plain queries under the setting `cuda_graphs`: recorded graphs on a CUDA
    device with 'auto'; None (the eager path, exactly as before) with 'off' and on the CPU."""
    if setting not in CUDA_GRAPHS:
        raise ValueError(f"Setting 'cuda_graphs' must be one of {', '.join(CUDA_GRAPHS)}; got {setting!r}.")
    if setting == "auto" and torch.device(device).type == "cuda":
        return StaticShapeForward(encode, device, max_rows, capture=True)
    return None
