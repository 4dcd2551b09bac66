"""The first load of a job's curves, downsampled in the database so that it stays small at any length
while keeping each curve's shape.

The points are cut into BUCKETS runs of consecutive seq numbers; from each run the query keeps the
first and last point and, for every series, the point holding its minimum and the one holding its
maximum (per-bucket min/max, the "M4" idea). So a spike or a dip of a single step is never averaged
away, and each series gets at most BUCKETS x 10 points, whatever the job's length. The page then
appends the raw points that come after; the full series is in the CSV download and the API.
"""

from __future__ import annotations

from webapp.jobs.models import MetricPoint

SERIES = ("train_loss", "val_acc", "sharpness", "sparsity")
BUCKETS = 200
MAX_POINTS = BUCKETS * (2 + 2 * len(SERIES))  # 2,000: at most this many rows (so points per series)


def bucket_of(seq: int, first_seq: int, last_seq: int) -> int:
    """The run a point falls in (the same integer arithmetic as the SQL below)."""
    return (seq - first_seq) * BUCKETS // (last_seq - first_seq + 1)


def downsampled_sql(job_id: int, first_seq: int, last_seq: int, columns: tuple[str, ...]) -> tuple[str, list]:
    """SQL and parameters for the rows of one job that keep its curves' shape, in seq order."""
    table = MetricPoint._meta.db_table
    extremes = ", ".join(f"MIN({s}) AS {s}_lo, MAX({s}) AS {s}_hi" for s in SERIES)
    picks = ", ".join(f"MIN(CASE WHEN p.{s} = e.{s}_{end} THEN p.seq END) AS {s}_{end}"
                      for s in SERIES for end in ("lo", "hi"))
    kept = " UNION ".join(f"SELECT {name} FROM picks"
                          for name in ["first_seq", "last_seq",
                                       *(f"{s}_{end}" for s in SERIES for end in ("lo", "hi"))])
    sql = f"""
        WITH p AS (SELECT seq, {", ".join(SERIES)}, ((seq - %s) * %s) / %s AS bucket FROM {table} WHERE job_id = %s),
        e AS (SELECT bucket, {extremes} FROM p GROUP BY bucket),
        picks AS (SELECT MIN(p.seq) AS first_seq, MAX(p.seq) AS last_seq, {picks}
                  FROM p JOIN e ON p.bucket = e.bucket GROUP BY p.bucket)
        SELECT {", ".join(columns)} FROM {table}
        WHERE job_id = %s AND seq IN ({kept})
        ORDER BY seq"""
    return sql, [first_seq, BUCKETS, last_seq - first_seq + 1, job_id, job_id]
