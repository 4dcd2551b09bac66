"""TuneConfig: every setting of a tuning job, as data (JSON-safe), with help text per field.

Defaults follow the SharpZO paper's reference settings, scaled down for small datasets and small backbones on a CPU
(the paper's values are quoted in each help text). `from_dict` validates everything and raises a
ConfigError (a ValueError) naming the setting, with a message a person can act on.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .methods import NO_QUERY_METHODS, Method  # noqa: F401  (NO_QUERY_METHODS: its old home)
from .methods.search_size import head_coordinates

METHODS = tuple(Method)
# they tune no joint vector: adapt='sparse' is refused
NOT_SPARSE = (Method.COOP, Method.LINEAR_PROBE, Method.TIP_ADAPTER)
PRECISIONS = ("fp32", "autocast")  # see tuning/backbones/precision.py
ADAPT = ("prompt", "sparse")  # see tuning/sparse/joint_objective.py
CUDA_GRAPHS = ("auto", "off")  # see tuning/backbones/graphed.py


def _f(default, help, choices=None, min=None, max=None, absent=None):
    """A setting: its default, help text (the allowed range is added to it), and `absent`: the value
    that reproduces what the tuner did before this setting existed (see TuneConfig.from_record)."""
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = tuple(choices)
    if min is not None:
        meta["min"] = min
    if max is not None:
        meta["max"] = max
        meta["help"] = f"{help} {allowed_range(meta)}"
    if absent is not None:
        meta["absent"] = absent
    return field(default=default, metadata=meta)


def allowed_range(meta) -> str:
    """'Allowed: 1 to 4,096.' for a setting's metadata with both bounds, else ''."""
    if "min" not in meta or "max" not in meta:
        return ""
    return f"Allowed: {_number(meta['min'])} to {_number(meta['max'])}."


def _number(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


# The seed mechanisms measured under the protocol, 5 seeds on 4 sets (tuning/README.md).
MECHANISMS = "bench/results/protocol_sharpzo-mechanisms-1000q.md"
FORM_DEFAULTS = "bench/results/protocol_sharpzo-defaults-2000q.md"  # the same arms at the form's settings
AUTO_SEARCHES = "bench/results/protocol_auto-searches-2000q.md"
AUTO_SEARCH_CHOICES = ("sharpzo,cmaes", "zosgd,cmaes", "cmaes", "zosgd")

@dataclass
class TuneConfig:
    # What to run
    method: str = _f("auto", "Tuning method: 'auto' (the default: zero-shot, the linear probe and Tip-Adapter "
                     "first, then SharpZO and CMA-ES over the prompt and a linear head warm-started from the best of "
                     "them; the winner on validation, where a costlier candidate must win by more than the noise), "
                     "'sharpzo' (sharpness-aware CMA-ES then sparse ZO-SGD), "
                     "'cmaes' (CMA-ES only, BBT-like), 'zosgd' (dense ZO-SGD only, MeZO-like), "
                     "'coop' (backpropagation baseline, not forward-only), 'linear_probe' (logistic regression "
                     "on the frozen image features), 'tip_adapter' (a training-free cache over the training "
                     "images' features on the zero-shot prompts) or 'zeroshot' (no tuning).",
                     choices=METHODS, absent="sharpzo")
    backbone: str = _f("demo", "Backbone id: 'demo', '<arch>:<pretrained_tag>', '<arch>@/path/to/ckpt.pt' "
                       "or a registered name.")
    budget: int = _f(20000, "Query budget. One query = the class prompts through the text tower at one "
                     "setting of the prompt (plus a cheap product with cached image features).", min=1, max=10_000_000)
    shots: int = _f(16, "Training images per class (the rest of each class goes to validation and test).",
                    min=1, max=1000)
    seed: int = _f(0, "Random seed: the split, the projection matrix and all sampling derive from it.", min=0,
                   max=2**31 - 1)
    device: str = _f("auto", "'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'.")
    precision: str = _f("fp32", "Number format of the text-tower forwards whose differences give the gradient "
                        "estimates: 'fp32' (exact enough on every device) or 'autocast' (the GPU's bf16: faster, but "
                        "its rounding swamps differences at mu = 1e-3; kept for jobs from before this setting). "
                        "Image features always use the device's fast format.", choices=PRECISIONS, absent="autocast")
    # Prompt parameterisation P = P0 + reshape(A w)
    ctx_init: str = _f("a photo of a", "Phrase whose token embeddings initialise the learned context P0; "
                       "its token count is the number of context tokens m (paper: m = 4).")
    intrinsic_dim: int = _f(128, "Dimension d of the tuned vector w (paper: 512; smaller suits small "
                            "budgets since a CGE sweep costs 2d queries; CMA-ES keeps a d x d covariance).",
                            min=1, max=4096)
    proj_scale: float = _f(1.0, "Scale of the random projection A: entries have std proj_scale * "
                           "(token-embedding std) / sqrt(d), so w ~ N(0, I) moves P by about one "
                           "embedding std.", min=0.0, max=100.0)
    # What to adapt (tuning/sparse/joint_objective.py)
    adapt: str = _f("prompt", "What the tuner changes: 'prompt' (the shared text context only) or 'sparse' (the "
                    "shared context, a linear head of class embeddings started at the text features, and a sparse "
                    "set of image-tower parameters chosen by forward-only sensitivity).", choices=ADAPT,
                    absent="prompt")
    param_budget: float = _f(0.005, "adapt='sparse': fraction of the image tower's parameters that may change "
                             "(0.005 = 0.5%).", min=0.0, max=0.2, absent=0.005)
    sparse_structure: str = _f("unstructured", "adapt='sparse': inside a weight matrix only partly in the budget, "
                               "change the largest-magnitude entries ('unstructured') or whole rows, output "
                               "channels, with the largest norm ('structured').",
                               choices=("unstructured", "structured"), absent="unstructured")
    allocation: str = _f("sensitivity", "adapt='sparse': spend the parameter budget on the groups with the highest "
                         "forward-only sensitivity ('sensitivity') or on randomly ordered groups ('random', an "
                         "ablation).", choices=("sensitivity", "random"), absent="sensitivity")
    sparse_blocks: int = _f(0, "adapt='sparse': only the last N residual blocks of the image tower (and its final "
                            "LayerNorm and projection) are candidates; 0 = all blocks. Fewer blocks make a query "
                            "cheaper: it runs only from the first tuned block on.", min=0, max=1000, absent=0)
    text_groups: bool = _f(False, "adapt='sparse': text-side groups (class-specific contexts, the text projection, "
                           "the last text blocks' LayerNorms and biases) compete with the image groups for the "
                           "parameter budget (tuning/sparse/text_groups.py). Off by default until validation says it "
                           "helps.", absent=False)
    sensitivity_probes: int = _f(2, "adapt='sparse': random two-point probes per candidate group for the "
                                 "sensitivity estimate (2 queries each, charged to the budget).", min=1,
                                 max=100, absent=2)
    vision_dim: int = _f(64, "adapt='sparse': intrinsic dimension of the image-side delta "
                         "(delta = scatter(indices, A_v w_v)).", min=1, max=4096, absent=64)
    vision_scale: float = _f(0.1, "adapt='sparse': w_v ~ N(0, I) moves each chosen image parameter by about "
                             "this fraction of its tensor's RMS.", min=0.0, max=100.0, absent=0.1)
    head_scale: float = _f(0.3, "adapt='sparse': scale of the linear head: class embedding k = text feature k + "
                           "head_scale * sum_j C_kj p_j, p_j the unit discriminant direction of class j from the "
                           "training features, C = K x K coordinates of w (fewer with many classes: head_form). "
                           "Chosen on validation (NEU-DET, CMA-ES, 1,000 queries): 0.1 / 0.3 / 1 / 3 gave 85.8 / "
                           "86.1 / 80.2 / 78.8 %.", min=0.0, max=100.0, absent=0.3)
    head_form: str = _f("auto", "adapt='sparse' and method 'auto': the linear head's coordinates. 'auto' (the "
                        "default): K x K (every class moves along every class's discriminant direction) up to 16 "
                        "classes; above, each class moves along its own direction and the 15 leading shared ones "
                        "(K x 16), so the search stays learnable with hundreds of classes. 'full': K x K at any K "
                        "(as before).", choices=("auto", "full"), absent="full")
    # Stage 1: sharpness-aware CMA-ES
    popsize: int = _f(20, "CMA-ES population size S (paper: 40).", min=2, max=1000)
    sigma0: float = _f(0.4, "CMA-ES initial step size (paper: 0.1, 0.2, 0.4 or 1.0).", min=0.0, max=100.0)
    rho: float = _f(0.0, "Sharpness radius: candidates are scored at x + rho g/||g|| and the sharpness L(w + "
                    "rho g/||g||) - L(w) is logged (paper: 0.05-0.1). Off (0) by default: 0, 0.1 and 0.5 showed no "
                    "measurable effect on any of 4 sets, 5 seeds, at 1,000 and at 2,000 queries "
                    f"({MECHANISMS}, {FORM_DEFAULTS}); off, no query goes to the shift or to the sharpness curve.",
                    min=0.0, max=10.0, absent=0.1)
    cma_covariance: str = _f("auto", "CMA-ES covariance model: 'auto' (the default: 'full' up to 512 tuned "
                             "numbers, 'diagonal' above, where many classes make the linear head large), 'full' (d x "
                             "d, as pycma's default; refused where it would need more than 4 GiB) or 'diagonal' "
                             "(separable: d numbers, pycma's CMA_diagonal). Why: tuning/methods/search_size.py; "
                             "costs: bench/results/cma_covariance_cpu.md and many_classes_cpu.md. At K = 6 full and "
                             "diagonal were level: no measurable effect "
                             f"({MECHANISMS}).",
                             choices=("auto", "full", "diagonal"), absent="full")
    cma_bounds: float = _f(0.0, "Box bounds +-cma_bounds on every CMA-ES coordinate (0 = unbounded, as before; "
                           "the reference SharpZO code uses 5). 5 changed no run at 1,000 queries: CMA-ES never "
                           f"reached it ({MECHANISMS}).", min=0.0, max=1000.0, absent=0.0)
    stage1_grad: str = _f("population", "Gradient estimate for the worst-case shift: 'population' (no "
                          "queries: the previous generation's samples and scores), 'cge' (2d queries, "
                          "exact to O(mu^2), as the paper does) or 'rge' / 'kernel_rge' (2*rge_queries "
                          "queries). 'population' scored higher on validation in our benchmarks (tuning/README.md).",
                          choices=("cge", "rge", "kernel_rge", "population"))
    rge_queries: int = _f(8, "Random directions per stage-1 RGE estimate (only for stage1_grad rge/kernel_rge).",
                          min=1, max=1000)
    mu_cge: float = _f(1e-3, "Coordinate step of the CGE estimate (paper: 1e-3).", min=1e-6, max=1.0)
    stage1_generations: int = _f(50, "Maximum CMA-ES generations T_c before stage 2 (paper: 100-500).",
                                 min=0, max=100_000)
    patience: int = _f(10, "Switch to stage 2 early after this many generations without a better "
                       "validation accuracy (0 = never early).", min=0, max=100_000)
    stage1_budget_fraction: float = _f(0.25, "Stage 1 stops before it spends more than this share of the "
                                       "budget (sharpzo only), so stage 2 always gets the rest.",
                                       min=0.0, max=1.0)
    stage2_start: str = _f("mean", "Where stage 2 starts: 'mean' (the CMA-ES mean) or 'recent_average' "
                           "(the average of the last few generations' candidates).",
                           choices=("mean", "recent_average"))
    recent_generations: int = _f(5, "Generations averaged by stage2_start='recent_average'.", min=1, max=1000)
    # Stage 2: sparse ZO-SGD with Z-pruning
    lr: float = _f(3.0, "ZO-SGD learning rate (paper: 1e-3, but for its own scale of w; here w ~ N(0, I) "
                   "moves the context by about one embedding std). Chosen on validation on the demo "
                   "backbone: 10 scored best and 30 diverged, so 3 keeps a margin.", min=0.0, max=1000.0)
    mu: float = _f(1e-3, "ZO-SGD perturbation size (paper: 1e-3).", min=1e-6, max=1.0)
    q: int = _f(1, "Random directions per ZO-SGD step (each costs 2 queries; paper: 1). 1 led on validation "
                 "at equal CPU time on both reference sets (bench/results/sweep_q-equal-time_*.md).", min=1, max=1000)
    stage2_estimator: str = _f("rge", "Stage-2 gradient estimate: 'rge' (MeZO two-point) or 'kernel_rge' "
                               "(KerZOO kernel-weighted, cancels the mu^2 bias). kernel_rge: no measurable effect on "
                               f"4 sets ({MECHANISMS}).", choices=("rge", "kernel_rge"))
    kernel_range: float = _f(1.0, "stage2_estimator='kernel_rge': r ~ U[-a, a] with a = kernel_range (KerZOO's "
                             "own range is the unscaled 1).", min=0.01, max=1.0, absent=1.0)
    stage2_update: str = _f("step", "Stage-2 update: 'step' (w <- w - lr g, plain ZO-SGD) or 'running_sum' "
                            "(w <- w - lr b with b += g never reset, as the reference SharpZO code's buffer does). "
                            f"running_sum hurts: -3.5 points of validation accuracy over 4 sets ({MECHANISMS}).",
                            choices=("step", "running_sum"), absent="step")
    mask_every: int = _f(200, "Steps between mask refreshes K_mask (a refresh costs 2d queries with mask_scores "
                         "'cge', none with 'history', plus 2 for the sharpness point when rho > 0; with sparsity "
                         "and rho both 0 there is no refresh; paper: 200).", min=1, max=1_000_000)
    sparsity: float = _f(0.0, "Fraction of the d coordinates frozen by the Z-pruning mask (paper: 0.5). Off (0) "
                         "by default: 0.25 against 0 showed no measurable effect on any of 4 sets, 5 seeds, at 1,000 "
                         f"and at 2,000 queries ({MECHANISMS}, {FORM_DEFAULTS}); off, stage 2 builds no mask.",
                         min=0.0, max=0.99, absent=0.25)
    mask_scores: str = _f("history", "Where a mask refresh gets its gradient: 'history' (the average of "
                          "the stage's own step estimates since the last refresh: no query; the first "
                          "K_mask steps run dense) or 'cge' (a CGE sweep at w, 2d queries, as the paper "
                          "does). 'history' scored higher on validation in our benchmarks (tuning/README.md).",
                          choices=("cge", "history"), absent="cge")
    mask_rule: str = _f("salient", "Which coordinates the mask keeps: 'salient' (highest score "
                        "w_i^2 * zscore|G_i|, as the paper says) or 'lowest' (as the published code does).",
                        choices=("salient", "lowest"))
    mask_saliency: str = _f("signed_z", "How a mask refresh scores coordinates: 'signed_z' (w_i^2 * zscore|G_i|, "
                            "the paper's), 'abs_z' (w_i^2 * |zscore|G_i||) or 'rank' (rank of |w_i| plus rank of "
                            "|G_i|); the three scored level on validation (bench/results/sweep_mask-saliency_*.md).",
                            choices=("signed_z", "abs_z", "rank"), absent="signed_z")
    eval_every: int = _f(25, "Stage-2 (and CoOp) steps between validation evaluations (1 query each).", min=1,
                         max=1_000_000)
    # Baseline: CoOp by backpropagation
    coop_lr: float = _f(1e-2, "Adam learning rate of the CoOp baseline (on w; for coop_param='context' "
                        "it is rescaled to the token-embedding scale).", min=0.0, max=10.0)
    coop_param: str = _f("projected", "CoOp parameters: 'projected' (the same w as the forward-only "
                         "methods) or 'context' (plain m x width context vectors, as in CoOp).",
                         choices=("projected", "context"))
    # Baselines on the frozen image features (no query: they read the cached features only)
    probe_steps: int = _f(500, "Full-batch Adam steps of each linear-probe fit (one fit per L2 strength; "
                          "the validation split picks the strength).", min=1, max=100_000, absent=500)
    auto_folds: int = _f(5, "Method 'auto': the quick candidates (zero-shot, the linear probe, Tip-Adapter) and their "
                         "settings are compared by stratified k-fold cross-validation over the training and "
                         "validation images, with at most this many folds (fewer when a class has fewer images), and "
                         "the one chosen, when it is the final winner, is fitted again on all of them. 0: compare them "
                         "on the validation images only and keep the fit on the training images (before this "
                         "setting). 1 is not allowed.", min=0, max=20, absent=0)
    auto_searches: str = _f("sharpzo,cmaes", "Method 'auto': the forward-only searches that share the budget left "
                            "after the quick candidates, in equal parts and in this order, each from the warm start. "
                            "ZO-SGD then CMA-ES, or CMA-ES alone, made no measurable difference at 2,000 queries: "
                            f"auto kept its warm start in nearly every run ({AUTO_SEARCHES}).",
                            choices=AUTO_SEARCH_CHOICES,
                            absent="sharpzo,cmaes")
    tip_cache: bool = _f(False, "Add a Tip-Adapter cache over the training images' features on top of what "
                         "the method tuned; its two constants are chosen on validation, and it is kept only "
                         "when it scores higher there (method 'tip_adapter' always tries it).", absent=False)
    # Engineering
    text_batch_size: int = _f(256, "Prompts per text-tower forward chunk (lower it if memory runs out).",
                              min=1, max=65536)
    cuda_graphs: str = _f("auto", "Text-tower forwards of the queries on a CUDA GPU: 'auto' (the default) records "
                          "the forward of each chunk size once as a CUDA graph and replays it (chunks padded up to "
                          "the next power of two), so a small batch no longer waits on hundreds of kernel launches; "
                          "'off' launches every forward from Python, as before this setting. No effect on the CPU, "
                          "on backpropagation (CoOp), or where a query changes text-tower weights (adapt='sparse' "
                          "with text_groups). The numbers are those of the same forward at the padded batch size.",
                          choices=CUDA_GRAPHS, absent="off")
    checkpoint_every: int = _f(50, "Stage-2/CoOp steps between checkpoints (stage 1 saves every generation).",
                               min=1, max=1_000_000)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "TuneConfig":
        d = dict(d or {})
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ConfigError(None, f"Unknown setting(s): {', '.join(unknown)}. "
                                    f"Known settings: {', '.join(known)}.")
        values = {}
        for name, value in d.items():
            values[name] = _coerce(known[name], value)
        cfg = cls(**values)
        cfg.validate()
        return cfg

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> "TuneConfig":
        """A configuration stored by an earlier run (a job row, a checkpoint, an adapter card). A setting
        it lacks did not exist when it was written: it takes the value that reproduces what the tuner
        did then (the field's `absent`), never today's default, so a resumed job keeps its algorithm."""
        d = dict(d)
        for f in dataclasses.fields(cls):
            if f.name not in d and "absent" in f.metadata:
                d[f.name] = f.metadata["absent"]
        return cls.from_dict(d)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            _coerce(f, getattr(self, f.name))
        if self.device != "auto" and not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError("device",
                              f"Setting 'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N', not {self.device!r}.")
        if self.adapt == "sparse" and (self.method in NOT_SPARSE or self.tip_cache):
            instead = "tip_cache" if self.tip_cache else f"method {self.method!r}"
            allowed = ", ".join(m for m in Method if m not in NOT_SPARSE and m != Method.AUTO)
            raise ConfigError("adapt", f"adapt='sparse' is for the forward-only methods ({allowed}); "
                                       f"use adapt='prompt' with {instead}.")
        if self.method == Method.AUTO and self.adapt == "sparse":
            raise ConfigError("adapt", "Method 'auto' chooses what to tune itself (the prompt and a linear head); "
                                       "use adapt='prompt' with it, or a forward-only method for adapt='sparse'.")
        if self.auto_folds == 1:
            raise ConfigError("auto_folds", "Setting 'auto_folds' must be 0 (compare on the validation images) or at "
                                            "least 2: one fold leaves no images to learn from.")
        if not self.ctx_init.strip():
            raise ConfigError("ctx_init", "Setting 'ctx_init' must contain at least one word.")

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}


def queries_to_spend(method: str, budget: int) -> int:
    """What a job of this method will spend of its budget (what run time and cost follow)."""
    return 1 if method in NO_QUERY_METHODS else budget


PROBE_SHARE = 0.1  # sensitivity probes take at most this share of the budget (sensitivity.probes_that_fit)
GROUPS_PER_BLOCK = 4  # candidate groups per image block: LayerNorms, biases, attention and MLP weights
FINAL_GROUPS = 2  # after the blocks: the final LayerNorm and the visual projection (param_groups.image_groups)
TEXT_BLOCKS = 2  # text_groups=True: the last text blocks whose LayerNorms and biases are candidates
TEXT_GROUPS = 2 + 2 * TEXT_BLOCKS  # class-specific contexts, the projection, per block its LayerNorms and biases


def sensitivity_groups(cfg: TuneConfig, image_blocks: int | None = None) -> int | None:
    """How many groups the sensitivity probes of an adapt='sparse' job visit (0 when none are probed): the
    image side's, and with text_groups the text side's; None when that depends on the backbone's number
    of blocks and it is not given."""
    if cfg.adapt != "sparse" or cfg.allocation != "sensitivity" or cfg.param_budget <= 0:
        return 0
    blocks = cfg.sparse_blocks if cfg.sparse_blocks and (image_blocks is None or cfg.sparse_blocks <= image_blocks) \
        else image_blocks
    return (None if blocks is None
            else GROUPS_PER_BLOCK * blocks + FINAL_GROUPS + (TEXT_GROUPS if cfg.text_groups else 0))


def tuned_dim(cfg: TuneConfig, num_classes: int | None = None) -> int:
    """Length of the vector the stages tune (what a CGE sweep pays 2 queries a coordinate for): the prompt's
    intrinsic_dim, and with adapt='sparse' the joint vector [prompt | head | image delta]
    (joint_objective.JointSpace; the head K x K or K x 16 by head_form, methods/search_size.py; the image
    delta only when param_budget > 0). `num_classes` unknown: the head is not counted, so the length is a
    lower bound."""
    head = head_coordinates(num_classes or 0, cfg.head_form)
    if cfg.method == "auto":  # the prompt and the head, never an image delta
        return cfg.intrinsic_dim + head
    if cfg.adapt != "sparse":
        return cfg.intrinsic_dim
    return cfg.intrinsic_dim + head + (cfg.vision_dim if cfg.param_budget > 0 else 0)


def minimum_budget(cfg: TuneConfig, image_blocks: int | None = None, num_classes: int | None = None) -> int:
    """The fewest queries with which every stage of the method moves once: the zero-shot evaluation
    (1, every method), with adapt='sparse' and allocation='sensitivity' one two-point probe of each
    candidate group within its PROBE_SHARE of the budget (less would place the image delta in a random
    order), one step of each stage, and the evaluation of where it lands. Mirrors what the stages charge
    (README "Query accounting"). Less would return the zero-shot adapter, or run SharpZO without its
    sharpness-aware stage, after a worker's start-up. `image_blocks`: the backbone's number of image
    blocks, where known (with sparse_blocks=0 the probes visit them all; unknown, they are not counted).
    `num_classes`: the dataset's class count, where known; with adapt='sparse' a CGE sweep (stage1_grad
    or mask_scores 'cge') runs over the joint vector, whose head it sizes (`tuned_dim`)."""
    if cfg.method in NO_QUERY_METHODS:
        return 1
    if cfg.method == "auto":  # its searches over the prompt and head, each in an equal part of what zero-shot leaves
        searches = [dataclasses.replace(cfg, method=m, adapt="sparse", param_budget=0.0)
                    for m in cfg.auto_searches.split(",")]
        return 1 + len(searches) * max(minimum_budget(s, image_blocks, num_classes) - 1 for s in searches)
    groups = sensitivity_groups(cfg, image_blocks) or 0

    def before_stages(budget: int) -> int:  # the zero-shot evaluation, then the probes that fit in what it leaves
        probes = min(cfg.sensitivity_probes, int(PROBE_SHARE * (budget - 1)) // (2 * groups)) if groups else 0
        return 1 + 2 * groups * probes

    fits = _stages_fit(cfg, tuned_dim(cfg, num_classes))
    budget = 1 + math.ceil(2 * groups / PROBE_SHARE) if groups else 1
    while not fits(budget, before_stages(budget)):
        budget += 1
    return budget


def _stages_fit(cfg: TuneConfig, dim: int):
    """fits(budget, spent): whether one step of each stage fits once `spent` queries are gone; `dim` is the
    length of the tuned vector."""
    from .methods.query_costs import generation_cost, refresh_cost

    if cfg.method == Method.CMAES:  # one generation: S candidates + the mean
        generation = generation_cost(cfg, sharpness_aware=False, dim=dim)
        return lambda budget, spent: budget - spent >= generation
    eval_on_first_step = 1 if cfg.eval_every == 1 else 0  # charged on top of the query kept for the final one
    if cfg.method == "coop":  # one forward + backward
        return lambda budget, spent: budget - spent >= 1 + eval_on_first_step + 1
    # One stage-2 step (2q); sharpzo refreshes before it unless the scores come from the step history.
    first_refresh = refresh_cost(cfg, dim) if cfg.method == Method.SHARPZO and cfg.mask_scores == "cge" else 0
    stage2 = 2 * cfg.q + first_refresh + eval_on_first_step + 1
    fraction = cfg.stage1_budget_fraction
    if cfg.method != Method.SHARPZO or not (cfg.stage1_generations and fraction):
        return lambda budget, spent: budget - spent >= stage2
    # One stage-1 generation within stage 1's share (tune.py caps it at int(fraction * budget)), and
    # stage 2's step in what the generations that fit under the cap leave.
    generation = generation_cost(cfg, sharpness_aware=True, dim=dim)

    def fits(budget: int, spent: int) -> bool:
        generations = min(cfg.stage1_generations, (int(fraction * budget) - spent) // generation)
        return generations >= 1 and budget - spent - generations * generation >= stage2
    return fits


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Check one value against its field's type, choices and range; return it in the field's type."""
    kind = type(f.default)
    name = f.name
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(name, f"Setting '{name}' must be a {kind.__name__}, got {value!r}.")
    meta = f.metadata
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(name, f"Setting '{name}' must be one of {', '.join(meta['choices'])}; got {value!r}.")
    if kind in (int, float):
        if value != value:  # NaN
            raise ConfigError(name, f"Setting '{name}' must be a number, got NaN.")
        if "min" in meta and value < meta["min"]:
            raise ConfigError(name, f"Setting '{name}' must be at least {meta['min']}, got {value!r}.")
        if "max" in meta and value > meta["max"]:
            raise ConfigError(name, f"Setting '{name}' must be at most {meta['max']}, got {value!r}.")
    return value
