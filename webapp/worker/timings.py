"""What a finished job measured, folded into its worker's figures for the time model
(webapp/jobs/time_model.py): a query's seconds for its method at its class count, the backbone's loading and
the images' encoding when it did them, the run's seconds beyond its queries (set-up, zero-shot point, a linear
probe's fits), and the rest of its worker time (evaluation, storing) as finishing."""

from __future__ import annotations

import logging

from webapp.integrations.tuning import prompt_tokens_estimate, queries_to_spend
from webapp.integrations.tuning.speed import seconds_per_query
from webapp.jobs.time_model import query_key
from webapp.worker.status import worker_status_refine_timings

log = logging.getLogger(__name__)

MIN_QUERIES = 20  # a zero-shot job (1 query) says nothing about a method's seconds a query
MIN_IMAGES = 8  # fewer encoded images time the encoding too roughly
MIN_LOAD_SECONDS = 0.05  # below this the backbone was held already: not a load


def record_job_timings(*, job, config, data, result, startup, resumed: bool, wall_s: float) -> None:
    """`wall_s`: the attempt's seconds from its claim until now (its result stored): finishing is what tuning and
    the start-up steps leave of it. The worker-seconds a job is billed start after the claim and stop at the
    store, which left a tenth of a second out: a third of a Tip-Adapter job."""
    if not job.worker:
        return
    image_delta = config.adapt == "sparse" and (config.param_budget or 0) > 0
    query_s = None
    if queries_to_spend(config.method, config.budget) > 1 and result.queries_used >= MIN_QUERIES:
        query_s = seconds_per_query(result)
    load_s = startup.seconds.get("loading")
    load_s = load_s if load_s and load_s > MIN_LOAD_SECONDS else None
    encode_s = startup.seconds.get("encoding", 0.0)
    image_s = encode_s / startup.encoded if startup.encoded >= MIN_IMAGES else None
    run_s = max(0.0, result.elapsed_s - (query_s or 0.0) * result.queries_used)
    overhead_s = None
    if not resumed:  # a resumed job's worker time holds more than one start-up
        overhead_s = max(0.0, wall_s - result.elapsed_s - sum(startup.seconds.values()))
    worker_status_refine_timings(hostname=job.worker, backbone=config.backbone,
                                 key=query_key(config.method, image_delta), query_s=query_s, run_s=run_s,
                                 num_classes=len(data.class_names), train_images=len(data.train) if image_delta else 0,
                                 prompt_tokens=prompt_tokens_estimate(data.class_names, config.ctx_init),
                                 load_s=load_s, image_s=image_s, overhead_s=overhead_s)
