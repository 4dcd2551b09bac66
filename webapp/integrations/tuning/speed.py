"""What a worker measures of itself when it starts (webapp/worker/self_measure.py): how long its backbone
takes to load, how long it takes to encode an image, and a query's seconds for each method that spends
queries, at two class counts. Synthetic inputs (random features, plain images): the figures are time only,
and they take seconds. torch comes with these, so each imports the tuner when called; a web process never
calls them."""
from __future__ import annotations

import time

CLASS_COUNTS = (2, 8)  # a query's cost grows with the class prompts it encodes: two counts give the line
CALIBRATION_QUERIES = 24  # per run, or the method's own minimum where that is more
CALIBRATION_IMAGES = 16
IMAGE_REPEATS = 3
FEATURES_PER_CLASS = (16, 8, 8)  # train, validation, test images per class of the synthetic data (16 shots)


def methods_to_measure() -> list[str]:
    """Every method, from the tuner's own list (a new method is measured as it comes)."""
    from tuning.methods import Method

    return [m.value for m in Method]


def measure_load(backbone_id: str, device: str = "auto"):
    """(backbone, seconds to load it); 0 s when this process held it already."""
    from tuning.backbones import loader

    held = any(key[0] == backbone_id for key in loader._CACHE)
    started = time.perf_counter()
    backbone = loader.load_backbone(backbone_id, device=device)
    return backbone, 0.0 if held else round(time.perf_counter() - started, 3)


def measure_images(backbone) -> float:
    """Seconds to encode one image."""
    from PIL import Image

    from tuning.data import encode_pil

    images = [Image.new("RGB", (256, 256), (i * 15 % 256, 80, 160)) for i in range(CALIBRATION_IMAGES)]
    encode_pil(backbone, images[:2])  # the first call pays for lazy set-up a job has paid for already
    timings = []
    for _ in range(IMAGE_REPEATS):  # other work on a shared CPU only ever adds time: the fastest is the figure
        started = time.perf_counter()
        encode_pil(backbone, images)
        timings.append((time.perf_counter() - started) / len(images))
    return round(min(timings), 5)


def measure_methods(backbone, backbone_id: str, methods: list[str], should_stop=None) -> dict | None:
    """{method: {"a", "b", "run"}}: a query's seconds as a + b K for K classes, and the seconds of a run beyond
    its queries (set-up and zero-shot point; all of a method that spends no query), from a short run of each
    method at each of CLASS_COUNTS. None when `should_stop` stopped a run (its figure would be wrong)."""
    from tuning.config import TuneConfig, minimum_budget
    from tuning.tuner import tune

    lines = {}
    for method in methods:
        seconds, runs = [], []
        for k in CLASS_COUNTS:
            config = TuneConfig.from_dict({"method": method, "backbone": backbone_id, "device": str(backbone.device)})
            budget = max(CALIBRATION_QUERIES, minimum_budget(config, num_classes=k))
            config = TuneConfig.from_dict({**config.to_dict(), "budget": budget})
            result = tune(config, _synthetic_data(backbone, k), backbone=backbone, should_stop=should_stop)
            if result.stopped:
                return None
            per_query = seconds_per_query(result) if result.queries_used > 1 else 0.0
            seconds.append(per_query)
            runs.append(max(0.0, result.elapsed_s - per_query * result.queries_used))
        slope = max(0.0, (seconds[1] - seconds[0]) / (CLASS_COUNTS[1] - CLASS_COUNTS[0]))
        lines[method] = {"a": round(max(0.0, seconds[0] - slope * CLASS_COUNTS[0]), 6), "b": round(slope, 6),
                         "run": round(max(runs), 4)}
    return lines


def seconds_per_query(result) -> float:
    """A run's seconds a query after its zero-shot point: the run's set-up and zero-shot evaluation are paid
    once a job (the model counts them in its finishing), so a short run must not spread them over its queries."""
    first = result.history[0] if result.history else {"queries": 0, "elapsed_s": 0.0}
    queries = result.queries_used - first["queries"]
    if queries <= 0:
        return result.elapsed_s / max(result.queries_used, 1)
    return max(0.0, result.elapsed_s - first["elapsed_s"]) / queries


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
    return FewShotData([f"class {i}" for i in range(num_classes)], train, val, test, backbone_id=backbone.id)
