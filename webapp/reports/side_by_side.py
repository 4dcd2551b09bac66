"""The selected jobs of a comparison side by side: their learning curves on one chart, and each
class's recall under each job. Only for an explicit selection, so it stays a handful of jobs."""

from __future__ import annotations

from webapp.integrations.tuning import NO_QUERY_METHODS
from webapp.jobs.models import MetricPoint

MAX_JOBS = 10  # more lines than this on one chart cannot be told apart
MAX_POINTS_PER_CURVE = 400  # every n-th point beyond this: the shape stays, the page stays light


def _thin(rows: list) -> list:
    step = -(-len(rows) // MAX_POINTS_PER_CURVE) if rows else 1
    thinned = rows[::step]
    if rows and thinned[-1] is not rows[-1]:
        thinned.append(rows[-1])  # the end of a curve is the point people read
    return thinned


def curves(jobs: list) -> list[dict]:
    """[{"label", "method", "uses_queries", "queries", "val_acc", "train_loss"}], one per job, in the jobs'
    order. A method without queries (a linear probe) logs its points at one query count: the chart draws
    it as a level line, not as a curve."""
    by_job: dict[int, list] = {job.pk: [] for job in jobs}
    points = (MetricPoint.objects.filter(job_id__in=list(by_job)).order_by("job_id", "seq")
              .values_list("job_id", "queries", "val_acc", "train_loss"))
    for job_id, queries, val_acc, train_loss in points:
        by_job[job_id].append((queries, val_acc, train_loss))
    result = []
    for job in jobs:
        rows = _thin(by_job[job.pk])
        result.append({"label": str(job), "method": job.method, "uses_queries": job.method not in NO_QUERY_METHODS,
                       "queries": [r[0] for r in rows], "val_acc": [r[1] for r in rows],
                       "train_loss": [r[2] for r in rows]})
    return result


def recall_by_class(jobs: list) -> dict:
    """{"jobs": [labels], "rows": [{"name", "recalls": [tuned recall under each job, None if absent]}]},
    classes in the order the jobs first name them."""
    names: list[str] = []
    for job in jobs:
        for name in (job.evaluation or {}).get("class_names") or []:
            if name not in names:
                names.append(name)
    rows = []
    for name in names:
        recalls = [(((job.evaluation or {}).get("tuned") or {}).get("per_class_accuracy") or {}).get(name)
                   for job in jobs]
        rows.append({"name": name, "recalls": recalls})
    return {"jobs": [str(job) for job in jobs], "rows": rows}


def side_by_side(jobs: list) -> dict | None:
    jobs = list(jobs)[:MAX_JOBS]
    if len(jobs) < 2:
        return None
    recall = recall_by_class(jobs)
    return {"curves": curves(jobs), "recall": recall}
