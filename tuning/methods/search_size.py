"""How the searches' own models grow with the number of classes K: the linear head's coordinates and the
CMA-ES covariance model, chosen from the sizes when the settings say 'auto' (head_form, cma_covariance).

Light (no torch): tuning.config counts a job's tuned dimension with it before any model is loaded.
"""
from __future__ import annotations

from ..errors import ConfigError

# Directions each class embedding may move along in the linear head (joint_objective.JointSpace). Up to
# this many classes the head is the K x K matrix over every class's discriminant direction, as it always
# was; above it, each class moves along its own direction and the HEAD_DIRECTIONS - 1 leading shared ones.
# Why a cap: the generations a budget buys do not grow with K (about 500 at the default 20,000 queries and
# popsize 20), and an evolution strategy gains roughly mu_eff / d in log-distance per generation, so K*K
# coordinates (10,000 at K = 100, 1,000,000 at K = 1,000) would barely move; K x 16 grows like the K
# prompts a query already runs. 16 keeps every head measured so far (K <= 7) exactly as it was.
HEAD_DIRECTIONS = 16

# 'auto' keeps the full covariance up to this search dimension and switches to the diagonal (separable)
# model above it. Memory and time: pycma's full model holds about three d x d float64 matrices and
# eigendecomposes one (O(d^3)) every few generations: 6 MiB at d = 512, 2.3 GiB and 0.6 s per candidate at
# d = 10,032 (bench/results/cma_covariance_cpu.md). Generations: its learning rates fall as 1/d^2, the
# separable model's as 1/d (sep-CMA-ES, Ros & Hansen 2008), so above a few hundred coordinates the full
# matrix hardly leaves its start in the few hundred generations a budget buys. 512 is the SharpZO paper's
# own dimension, run with the full model; every job measured so far (prompt 128, K <= 7 heads) stays below.
FULL_COVARIANCE_MAX_DIM = 512

# An explicit cma_covariance='full' is refused above this much covariance memory (in words, before any query).
FULL_COVARIANCE_MAX_BYTES = 4 * 2**30


def head_directions(num_classes: int, form: str) -> int:
    """Directions per class embedding: K for form 'full' or up to HEAD_DIRECTIONS classes, else HEAD_DIRECTIONS."""
    return num_classes if form == "full" or num_classes <= HEAD_DIRECTIONS else HEAD_DIRECTIONS


def head_coordinates(num_classes: int, form: str) -> int:
    """Length of the head's part of the joint vector."""
    return num_classes * head_directions(num_classes, form)


def full_covariance_bytes(dim: int) -> int:
    """pycma's full model: C, its eigenvectors B and a work array, each d x d float64."""
    return 3 * 8 * dim * dim


def covariance_model(setting: str, dim: int) -> str:
    """'full' or 'diagonal' for a search over `dim` coordinates; ConfigError when an explicit 'full'
    would not fit in memory."""
    if setting == "auto":
        return "full" if dim <= FULL_COVARIANCE_MAX_DIM else "diagonal"
    if setting == "full" and full_covariance_bytes(dim) > FULL_COVARIANCE_MAX_BYTES:
        raise ConfigError("cma_covariance", f"cma_covariance='full' keeps a {dim:,} x {dim:,} matrix for this job's "
                          f"{dim:,} tuned numbers (many classes make the linear head large): about "
                          f"{full_covariance_bytes(dim) / 2**30:,.0f} GiB of memory. Use 'auto' or 'diagonal'.")
    return setting
