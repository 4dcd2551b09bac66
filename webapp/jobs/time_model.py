"""One model of a tuning job's time, in plain arithmetic (no database): the form's estimate, the API's, a
time budget in minutes, the queue outlook, a running job's time left and a queued job's "start in" all
come from here (webapp/jobs/estimates.py reads the figures workers measured and calls it).

    job = start-up + tuning + finishing
    start-up  = loading the backbone (0 when a worker holds it) + encoding the dataset's images
                (0 when a job on this backbone encoded them already: features are cached)
    tuning    = the method's run (set-up, zero-shot point, the cheap candidates weighed beside its adapter;
                all of a method that spends no query, such as a linear probe's fits) + queries x a query's
                seconds; for K classes a query costs a + b K (its K class prompts through the text tower,
                and the method's own bookkeeping), measured per family of methods that share a query path
                (webapp/integrations/tuning/speed.py); the class prompts' part grows with the longest
                prompt's tokens (the worker measured at one length, a dataset's names may be longer); a
                sparse adapter that changes image weights also runs its training images each query
    finishing = evaluation of zero-shot and the tuned adapter, storing it (seconds per job, measured)

A worker measures every figure when it starts (webapp/worker/self_measure.py) and every finished job
refines its method's figures (webapp/worker/status.py), so the form is right from the first job on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Before any worker has measured anything: the demo backbone on a 2-core CPU (bench/results/estimates_cpu.md).
DEFAULT_FIGURES = {
    "cpu": {"load_s": 6.0, "image_s": 0.06, "overhead_s": 2.0, "query": (0.02, 0.01)},
    "gpu": {"load_s": 10.0, "image_s": 0.005, "overhead_s": 2.0, "query": (0.005, 0.0005)},
}


def query_key(method: str, image_delta: bool = False) -> str:
    """Figures are kept per method, and apart for sparse adapters that change image weights (their queries
    run images too)."""
    return f"{method}+image" if image_delta else method


@dataclass(frozen=True)
class Figures:
    """One worker's measured figures for one backbone (WorkerStatus.timings[backbone])."""

    load_s: float
    image_s: float  # seconds to read and encode one image
    overhead_s: float  # seconds per job outside start-up and tuning
    query_s: dict = field(default_factory=dict)  # query_key -> {"a", "b"}: a query's seconds = a + b K
    jobs: int = 0  # finished jobs that refined them
    prompt_tokens: int = 0  # the prompt length the query figures hold for (0: not recorded, taken as any job's)
    fallback_query: tuple = DEFAULT_FIGURES["cpu"]["query"]  # (a, b) before any method is measured

    @classmethod
    def from_record(cls, record: dict, kind: str = "cpu") -> "Figures":
        """A figure not measured yet (finishing, before the first job) is the default for the kind."""
        default = DEFAULT_FIGURES.get(kind, DEFAULT_FIGURES["cpu"])
        return cls(load_s=float(record.get("load_s", default["load_s"])),
                   image_s=float(record.get("image_s", default["image_s"])),
                   overhead_s=float(record.get("overhead_s", default["overhead_s"])),
                   query_s=dict(record.get("query_s") or {}), jobs=int(record.get("jobs", 0)),
                   prompt_tokens=int(record.get("prompt_tokens", 0)), fallback_query=default["query"])

    @classmethod
    def default(cls, kind: str) -> "Figures":
        d = DEFAULT_FIGURES.get(kind, DEFAULT_FIGURES["cpu"])
        return cls(load_s=d["load_s"], image_s=d["image_s"], overhead_s=d["overhead_s"], fallback_query=d["query"])

    def run_seconds(self, key: str) -> float:
        """A method's seconds a run beyond its queries: its set-up and zero-shot point, or the whole of a method
        that spends no query (a linear probe's fits)."""
        for candidate in (key, key.split("+")[0]):
            if candidate in self.query_s:
                return float(self.query_s[candidate].get("run", 0.0))
        return 0.0

    def query_line(self, key: str) -> tuple[float, float, bool]:
        """(a, b, measured) for this method; a method this worker has not measured is taken as its slowest
        measured one (a new method is never estimated as cheap), or the default before anything is measured."""
        method = key.split("+")[0]
        for candidate in (key, method):
            if candidate in self.query_s:
                line = self.query_s[candidate]
                return float(line["a"]), float(line["b"]), True
        if self.query_s:
            slowest = max(self.query_s.values(), key=lambda line: line["a"] + 8 * line["b"])
            return float(slowest["a"]), float(slowest["b"]), False
        return (*self.fallback_query, False)


@dataclass(frozen=True)
class Workload:
    """What a job will do, in the model's units."""

    method: str
    queries: int  # what the method will spend of its budget (tuning.config.queries_to_spend)
    num_classes: int
    num_images: int = 0  # images to encode before tuning (0 when their features are cached)
    train_images: int = 0  # sparse adapters that change image weights: images each query runs; else 0
    load_backbone: bool = True  # False when a worker holds the backbone already
    prompt_tokens: int = 0  # tokens of the longest class prompt (prompt_tokens_estimate); 0 when unknown

    @property
    def key(self) -> str:
        return query_key(self.method, image_delta=self.train_images > 0)


@dataclass(frozen=True)
class JobTime:
    startup_s: float
    tuning_s: float
    finishing_s: float
    query_s: float  # one query's seconds
    run_s: float  # the method's seconds beyond its queries (part of tuning_s): mostly after its last query
    measured: bool  # the method's query figure was measured (else borrowed or the default)

    @property
    def seconds(self) -> float:
        return self.startup_s + self.tuning_s + self.finishing_s


def prompt_length_ratio(measured_at: int, job: int) -> float:
    """How much longer a job's class prompts run than those the figures were measured with (1 when either
    length is unknown)."""
    return job / measured_at if measured_at > 0 and job > 0 else 1.0


def seconds_per_query(figures: Figures, workload: Workload) -> tuple[float, bool]:
    a, b, measured = figures.query_line(workload.key)
    prompts = b * max(workload.num_classes, 1) * prompt_length_ratio(figures.prompt_tokens, workload.prompt_tokens)
    return a + prompts + workload.train_images * figures.image_s, measured


def startup_seconds(figures: Figures, workload: Workload) -> float:
    return (figures.load_s if workload.load_backbone else 0.0) + workload.num_images * figures.image_s


def job_time(figures: Figures, workload: Workload) -> JobTime:
    per_query, measured = seconds_per_query(figures, workload)
    run = figures.run_seconds(workload.key)
    return JobTime(startup_s=startup_seconds(figures, workload), tuning_s=run + workload.queries * per_query,
                   finishing_s=figures.overhead_s, query_s=per_query, run_s=run, measured=measured)


def queries_in(figures: Figures, workload: Workload, seconds: float) -> int:
    """The most queries that fit in `seconds` of worker time with this workload (its `queries` aside): the
    inverse of job_time. 0 when start-up and finishing alone take that long."""
    per_query, _ = seconds_per_query(figures, workload)
    left = seconds - startup_seconds(figures, workload) - figures.overhead_s - figures.run_seconds(workload.key)
    return max(0, math.floor(left / per_query)) if per_query > 0 else 0


def refined_line(line: dict | None, *, observed_s: float | None, run_s: float, num_classes: int,
                 smoothing: float, length_ratio: float = 1.0) -> dict:
    """A method's figures after a finished job that took `observed_s` a query (None: it spent none) at
    `num_classes` classes, prompts `length_ratio` times as long as the figures', and `run_s` beyond its queries:
    the line keeps its shape (how cost grows with K, measured at start) and moves toward the observation."""
    line = dict(line or {})
    run = line.get("run")
    line["run"] = round(run_s if run is None else smoothing * run_s + (1 - smoothing) * float(run), 4)
    if observed_s is None:
        return {"a": 0.0, "b": 0.0, **line}
    predicted = float(line.get("a", 0)) + float(line.get("b", 0)) * num_classes * length_ratio
    if predicted <= 0:
        return {**line, "a": 0.0, "b": round(observed_s / (max(num_classes, 1) * length_ratio), 6)}
    scale = smoothing * observed_s / predicted + (1 - smoothing)
    return {**line, "a": round(float(line["a"]) * scale, 6), "b": round(float(line["b"]) * scale, 6)}
