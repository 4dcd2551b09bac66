"""What a worker measures of itself when it starts (webapp/worker/self_measure.py): how long its backbone
takes to load, how long it takes to encode an image, how long a job's finishing takes, and each method's
figures for the time model (webapp/jobs/time_model.py): a query's seconds a + b K for K classes, and a run's
seconds beyond its queries.
Synthetic inputs (random features, plain images): the figures are time only, and they take a few seconds of
CPU. torch comes with these, so each imports the tuner when called; a web process never calls them.

Methods whose queries run the same code are measured once (a family):

- the line's shape (how a query's cost grows with K: the class prompts through the text tower) is the query
  function alone, timed at two class counts;
- a short run of each family's method at one class count scales that line to what its queries cost with
  their bookkeeping (CMA-ES generations, ZO-SGD steps, CoOp's backward pass);
- SharpZO's queries are CMA-ES's (stage 1) and ZO-SGD's (stage 2), and auto's are those of its searches
  in equal shares (the default `auto_searches`, tuning/methods/auto.py): their lines are their families'
  weighted by the share of the budget each stage spends;
- a method that spends queries also weighs the cheap candidates beside its adapter (zero-shot, the linear
  probe and Tip-Adapter: tuning/methods/second_opinion.py; auto starts from them): its run seconds are
  theirs, measured by a run of each of those methods, which spend no query;
- CMA-ES's own work each generation (pycma's ask and tell, with the eigendecomposition of its covariance
  that it does lazily, every few generations) is timed apart, over enough generations to include some: the
  family's short run is a single generation, before any decomposition, while a CMA-ES job at 1,000 queries
  and 6 classes spent 15-20% of its time in them (cProfile, load 3: numpy's eigh, 0.1-0.2 s each, before the
  worker held OpenBLAS to its share of the cores, webapp/worker/threads.py; about 2 ms since). It is spread
  over a generation's queries.

An image's seconds are the median of a few encodings, not the fastest: a job meets the machine's usual load,
not its quietest moment. The seconds after tuning (evaluating and writing the adapter) are measured too.
"""
from __future__ import annotations

import time

SHAPE_CLASSES = (2, 8)  # the query function alone at two class counts gives the line's shape
SHAPE_REPEATS = 3  # other work on a shared CPU only ever adds time: the fastest of these is the figure
FAMILY_CLASSES = 4  # the class count of the families' short runs
CALIBRATION_QUERIES = 12  # per family run, or the method's own minimum where that is more
CALIBRATION_IMAGES = 16
CALIBRATION_IMAGE_SIDE = 400  # pixels: decoding and resizing a stored image is part of a job's encoding
IMAGE_REPEATS = 3
# pycma decomposes its covariance every other generation at these sizes, from the third on: the first ones are
# left out of the timing, as they are a small part of a job's
WARM_GENERATIONS, GENERATIONS_TIMED = 2, 4
FEATURES_PER_CLASS = (16, 8, 8)  # train, validation, test images per class of the synthetic data (16 shots)
CHEAP_CANDIDATES = ("zeroshot", "linear_probe", "tip_adapter")


def budget_shares() -> dict[str, dict[str, float]]:
    """The methods whose queries are those of the families, by the share of the budget each spends at the
    tuner's defaults: SharpZO's stage 1 spends at most stage1_budget_fraction of it."""
    from tuning.config import TuneConfig

    defaults = TuneConfig()
    stage1 = defaults.stage1_budget_fraction
    sharpzo = {"cmaes": stage1, "zosgd": 1 - stage1}
    searches = [sharpzo if m == "sharpzo" else {m: 1.0} for m in defaults.auto_searches.split(",")]
    auto = {family: sum(s.get(family, 0.0) for s in searches) / len(searches) for family in ("cmaes", "zosgd")}
    return {"sharpzo": sharpzo, "auto": auto}


def measure_load(backbone_id: str, device: str = "auto"):
    """(backbone, seconds to load it); 0 s when this process held it already."""
    from tuning.backbones import loader

    held = any(key[0] == backbone_id for key in loader._CACHE)
    started = time.perf_counter()
    backbone = loader.load_backbone(backbone_id, device=device)
    return backbone, 0.0 if held else round(time.perf_counter() - started, 3)


def measure_images(backbone) -> float:
    """Seconds to encode one image as a job does: JPEG files read, decoded, resized and encoded in the job's
    chunks (tuning.data.encode_images). Timed on in-memory images, the figure left out reading and decoding: a
    first job's encoding took twice as long as it said."""
    import statistics
    import tempfile
    from pathlib import Path

    from PIL import Image

    from tuning.data import encode_images

    with tempfile.TemporaryDirectory(prefix="worker-measure-") as folder:
        paths = []
        for i in range(CALIBRATION_IMAGES):
            noise = Image.effect_noise((CALIBRATION_IMAGE_SIDE, CALIBRATION_IMAGE_SIDE), 40 + i)
            paths.append(Path(folder) / f"{i}.jpg")
            Image.merge("RGB", (noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise)).save(paths[-1])
        shas = {path: str(i) for i, path in enumerate(paths)}
        encode_images(backbone, paths[:2], shas)  # the first call pays for lazy set-up a job has paid for already
        timings = []
        for _ in range(IMAGE_REPEATS):
            started = time.perf_counter()
            encode_images(backbone, paths, shas)
            timings.append((time.perf_counter() - started) / len(paths))
    return round(statistics.median(timings), 5)


def measure_finishing(backbone, backbone_id: str) -> float:
    """Seconds a job spends after tuning, as far as they can be timed without a job: the tuned adapter
    evaluated on a test split and written to files (finished jobs add the rest: storing it, the report's
    pictures). Before this, the figure was a guessed 2 s until a job finished."""
    import tempfile
    from pathlib import Path

    from tuning.adapter import save_adapter
    from tuning.config import TuneConfig
    from tuning.evaluation import evaluate
    from tuning.tuner import tune

    data = _synthetic_data(backbone, FAMILY_CLASSES)
    config = TuneConfig.from_dict({"method": "zeroshot", "backbone": backbone_id, "device": str(backbone.device)})
    adapter = tune(config, data, backbone=backbone).adapter
    started = time.perf_counter()
    evaluate(backbone, data.test, adapter=adapter, class_names=data.class_names)
    with tempfile.TemporaryDirectory(prefix="worker-measure-") as folder:
        save_adapter(adapter, Path(folder) / "adapter")
    return round(time.perf_counter() - started, 4)


def measure_methods(backbone, backbone_id: str, should_stop=None) -> dict | None:
    """{method: {"a", "b", "run"}} for every method: a query's seconds as a + b K for K classes, and the seconds
    of a run beyond its queries. None when `should_stop` stopped the measurement (a figure would be wrong)."""
    from tuning.methods import Method
    from tuning.methods.cmaes import load_cma

    load_cma()  # once a process: a job's first CMA-ES generation pays for it, not each of its queries

    stop = should_stop or (lambda: False)
    shape = _query_shape(backbone, backbone_id, stop)
    if shape is None:
        return None
    runs = {}
    shares = budget_shares()
    for method in [m.value for m in Method if m not in shares]:  # a new method is measured as it comes
        runs[method] = _short_run(backbone, backbone_id, method, stop)
        if runs[method] is None:
            return None
    cma_bookkeeping = _cma_bookkeeping_per_query(backbone_id, stop)
    if cma_bookkeeping is None:
        return None
    candidates = {m: runs[m].elapsed_s for m in CHEAP_CANDIDATES}
    # the candidates' own set-up and zero-shot point are the method's; the zero-shot run is nothing else
    weighed = max(0.0, candidates["linear_probe"] + candidates["tip_adapter"] - candidates["zeroshot"])
    lines = {}
    for method, result in runs.items():
        if method in CHEAP_CANDIDATES:
            lines[method] = {"a": 0.0, "b": 0.0, "run": round(result.elapsed_s, 4)}
        else:
            seconds = seconds_per_query(result) + (cma_bookkeeping if method == "cmaes" else 0.0)
            lines[method] = {**_scaled(shape, seconds), "run": round(weighed, 4)}
    for method, mix in shares.items():
        lines[method] = {part: round(sum(share * lines[family][part] for family, share in mix.items()), 6)
                         for part in ("a", "b")}
        lines[method]["run"] = round(weighed, 4)
    return lines


def _query_shape(backbone, backbone_id: str, stop) -> tuple[float, float] | None:
    """(a, b): one query of the prompt path (a ZO-SGD step's pair of points through the objective) takes
    a + b K seconds; None when stopped."""
    import torch

    from tuning.config import TuneConfig
    from tuning.objective import Objective
    from tuning.tuner import prompt_learner

    cfg = TuneConfig.from_dict({"backbone": backbone_id})
    seconds = []
    for k in SHAPE_CLASSES:
        data = _synthetic_data(backbone, k)
        objective = Objective(prompt_learner(cfg, backbone, data), data, budget=2 * (SHAPE_REPEATS + 1))
        pair = torch.randn(2, cfg.intrinsic_dim, generator=torch.Generator().manual_seed(k))
        objective.losses(pair)  # the first call pays for lazy set-up
        fastest = float("inf")
        for _ in range(SHAPE_REPEATS):
            if stop():
                return None
            started = time.perf_counter()
            objective.losses(pair)
            fastest = min(fastest, (time.perf_counter() - started) / 2)
        seconds.append(fastest)
    (k0, k1), (s0, s1) = SHAPE_CLASSES, seconds
    slope = max(0.0, (s1 - s0) / (k1 - k0))
    return max(0.0, s0 - slope * k0), slope


def _cma_bookkeeping_per_query(backbone_id: str, stop) -> float | None:
    """pycma's seconds a generation, spread over the generation's queries; None when stopped. Timed on random
    fitness values at the family run's dimension: the work does not depend on them."""
    import warnings

    import numpy as np

    from tuning.config import TuneConfig, tuned_dim
    from tuning.methods.cmaes import new_es
    from tuning.methods.query_costs import generation_cost

    config = TuneConfig.from_dict({"method": "cmaes", "backbone": backbone_id, "adapt": "sparse", "param_budget": 0.0})
    dim = tuned_dim(config, FAMILY_CLASSES)
    es, fitness = new_es(dim, config), np.random.default_rng(0)
    started = 0.0
    for generation in range(WARM_GENERATIONS + GENERATIONS_TIMED):
        if stop():
            return None
        if generation == WARM_GENERATIONS:
            started = time.perf_counter()
        candidates = es.ask()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es.tell(candidates, fitness.random(len(candidates)).tolist())
    per_generation = (time.perf_counter() - started) / GENERATIONS_TIMED
    return per_generation / generation_cost(config, sharpness_aware=False, dim=dim)


def _scaled(shape: tuple[float, float], seconds: float) -> dict:
    """The line of the given shape through `seconds` a query at FAMILY_CLASSES classes."""
    a, b = shape
    at = a + b * FAMILY_CLASSES
    if at <= 0:
        return {"a": 0.0, "b": round(seconds / FAMILY_CLASSES, 6)}
    return {"a": round(a * seconds / at, 6), "b": round(b * seconds / at, 6)}


def _short_run(backbone, backbone_id: str, method: str, stop):
    """A run of `method` at FAMILY_CLASSES classes on CALIBRATION_QUERIES queries (or its minimum); None when
    stopped. The forward-only searches tune the prompt and a linear head (adapt='sparse' without image weights:
    the form's default for them, and what auto searches); the linear probe beside a method's adapter takes
    a single step here, because the probe's own run measures it."""
    from tuning.config import TuneConfig, minimum_budget
    from tuning.methods import SPARSE_METHODS, Method
    from tuning.tuner import tune

    settings = {"method": method, "backbone": backbone_id, "device": str(backbone.device)}
    if Method(method).spends_queries:
        settings["probe_steps"] = 1
    if method in SPARSE_METHODS:
        settings.update(adapt="sparse", param_budget=0.0)
    config = TuneConfig.from_dict(settings)
    budget = max(CALIBRATION_QUERIES, minimum_budget(config, num_classes=FAMILY_CLASSES))
    config = TuneConfig.from_dict({**config.to_dict(), "budget": budget})
    result = tune(config, _synthetic_data(backbone, FAMILY_CLASSES), backbone=backbone, should_stop=stop)
    return None if result.stopped else result


def seconds_per_query(result) -> float:
    """A run's seconds a query, from its zero-shot point to its last point: its set-up and zero-shot evaluation
    before, and what it does after its last query (the candidates weighed beside its adapter), are paid once a
    run, so they must not be spread over its queries."""
    if len(result.history) < 2:
        return result.elapsed_s / max(result.queries_used, 1)
    first, last = result.history[0], result.history[-1]
    queries = last["queries"] - first["queries"]
    return max(0.0, last["elapsed_s"] - first["elapsed_s"]) / queries if queries > 0 else 0.0


def _synthetic_names(num_classes: int) -> list[str]:
    return [f"class {i}" for i in range(num_classes)]


def measured_prompt_tokens() -> int:
    """The prompt length the query figures hold for: the synthetic classes' (a job's may be longer)."""
    from tuning.backbones.prompt_length import prompt_tokens_estimate
    return prompt_tokens_estimate(_synthetic_names(max(SHAPE_CLASSES)))


def _synthetic_data(backbone, num_classes: int):
    import torch
    import torch.nn.functional as F

    from tuning.data import FewShotData, Split

    generator = torch.Generator().manual_seed(num_classes)

    def split(per_class: int) -> Split:
        labels = torch.arange(num_classes).repeat_interleave(per_class)
        features = F.normalize(torch.randn(len(labels), backbone.embed_dim, generator=generator), dim=-1)
        return Split(features, labels, [f"synthetic-{i}" for i in range(len(labels))])

    train, val, test = (split(n) for n in FEATURES_PER_CLASS)
    return FewShotData(_synthetic_names(num_classes), train, val, test, backbone_id=backbone.id)
