"""Benchmark of the live-metrics path of a tuning job.

1. metrics.json latency (p50/p95) for a job holding 20,000 points: the full fetch a page makes when
   it opens (`after=0`) and the incremental fetch it makes every 1.5 s (`after=<last seq>`, 10 new
   points). Requests go through the whole Django stack (middleware, session, ownership check) with
   the test client, so network time is left out.
2. Time from a worker's metric to the JSON endpoint: a MetricSink and heartbeat thread, exactly as a
   worker runs them, receive points at a tuner-like pace while a reader polls metrics.json; each
   point's delay is from `on_metrics(...)` to its first appearance in a response. Reported for a
   reader polling every 20 ms (the delay of the server side alone) and every 1.5 s (the job page).

Run:  .venv/bin/python bench/bench_metrics.py [--points 20000] [--repeats 200]
      (DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres for PostgreSQL)
Writes bench/results/metrics.md (or --out) and prints the same table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WEBAPP_VAR_DIR", tempfile.mkdtemp(prefix="bench-metrics-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def setup_database():
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    return connection


def make_job(points: int):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from webapp.accounts.models import Membership, Workspace
    from webapp.datasets.models import Dataset, DatasetVersion
    from webapp.jobs.models import Job, MetricPoint

    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    workspace = Workspace.objects.create(name="Bench")
    Membership.objects.create(user=user, workspace=workspace, role="engineer")
    dataset = Dataset.objects.create(workspace=workspace, name="bench")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, status="ready", upload="x.zip",
                                            class_counts={"a": 10, "b": 10})
    job = Job.objects.create(workspace=workspace, dataset_version=version, backbone="demo", method="sharpzo",
                             shots=4, budget=points * 2, status=Job.Status.RUNNING, attempts=1,
                             heartbeat_at=timezone.now(), queries_used=points * 2 - 2, stage="zo")
    batch = []
    for seq in range(1, points + 1):
        batch.append(MetricPoint(job=job, seq=seq, step=seq, stage="cmaes" if seq < points // 4 else "zo",
                                 queries=2 * seq, train_loss=1.0 / seq, val_acc=0.5 if seq % 10 == 0 else None,
                                 sharpness=0.01 if seq % 50 == 0 else None, sparsity=0.5, elapsed_s=seq * 0.01))
        if len(batch) == 5000:
            MetricPoint.objects.bulk_create(batch)
            batch = []
    MetricPoint.objects.bulk_create(batch)
    return user, job


def timed_gets(client, url: str, repeats: int) -> tuple[list[float], int]:
    client.get(url)  # warm caches, as a page that is already open would have them
    times, size = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content[:300]
        size = len(response.content)
    return times, size


def endpoint_latency(user, job, points: int, repeats: int) -> list[dict]:
    from django.test import Client

    client = Client()
    client.force_login(user)
    rows = []
    for label, after, n in (("full fetch (after=0)", 0, max(10, repeats // 10)),
                            ("incremental fetch (10 new points)", points - 10, repeats)):
        times, size = timed_gets(client, f"/jobs/{job.pk}/metrics.json?after={after}", n)
        rows.append({"case": label, "n": n, "p50": percentile(times, 50), "p95": percentile(times, 95),
                     "bytes": size})
    return rows


def worker_to_endpoint(user, n_points: int, interval_s: float, poll_s: float) -> list[float]:
    """Delays (s) from sink.add() to the point's first appearance in metrics.json."""
    from django.db import connections
    from django.test import Client

    from webapp.accounts.models import Workspace
    from webapp.datasets.models import DatasetVersion
    from webapp.jobs.models import Job
    from webapp.worker.fence import job_claim
    from webapp.worker.pulse import Pulse
    from webapp.worker.sink import MetricSink

    version = DatasetVersion.objects.first()
    job = Job.objects.create(workspace=Workspace.objects.get(name="Bench"), dataset_version=version, backbone="demo",
                             method="sharpzo", shots=4, budget=n_points * 2)
    fence = job_claim(job_id=job.pk, worker="bench@localhost")
    sent: dict[int, float] = {}
    seen: dict[int, float] = {}
    done = threading.Event()

    def reader():
        client = Client()
        client.force_login(user)
        after = 0
        deadline = time.monotonic() + n_points * interval_s + 60
        try:
            while time.monotonic() < deadline:
                body = client.get(f"/jobs/{job.pk}/metrics.json?after={after}").json()
                now = time.perf_counter()
                for seq in body["points"]["seq"]:
                    seen.setdefault(seq, now)
                after = body["last_seq"]
                if done.is_set() and len(seen) >= len(sent):
                    break
                time.sleep(poll_s)
        finally:
            connections.close_all()

    thread = threading.Thread(target=reader)
    thread.start()
    sink = MetricSink(fence)
    with Pulse(fence, sink, every_s=5):
        for i in range(n_points):
            sent[i + 1] = time.perf_counter()  # seq i+1: the sink numbers points from 1
            sink.add({"step": i, "stage": "zo", "queries": 2 * (i + 1), "train_loss": 1.0, "val_acc": None,
                      "sharpness": None, "sparsity": 0.5, "elapsed_s": i * interval_s})
            time.sleep(interval_s)
        time.sleep(1.5)  # the last points go out with the heartbeat thread's timed flush
    sink.flush()
    done.set()
    thread.join(timeout=60)
    return [seen[seq] - sent[seq] for seq in sent if seq in seen]


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--stream-points", type=int, default=150, help="points sent in the worker-to-endpoint test")
    parser.add_argument("--stream-interval", type=float, default=0.05, help="seconds between the tuner's points")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "metrics.md"))
    args = parser.parse_args(argv)

    connection = setup_database()
    try:
        user, job = make_job(args.points)
        latency = endpoint_latency(user, job, args.points, args.repeats)
        streams = {poll: worker_to_endpoint(user, args.stream_points, args.stream_interval, poll)
                   for poll in (0.02, 1.5)}
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)

    lines = [
        "# Live metrics: endpoint latency and worker-to-endpoint delay",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"database {connection.vendor}. Load average at the end: {os.getloadavg()[0]:.1f} "
        "(the machine is shared; figures are upper bounds).",
        "",
        f"## metrics.json for a job with {args.points:,} points (through the full Django stack, no network)",
        "",
        "| request | requests | p50 (ms) | p95 (ms) | response size |",
        "|---|---|---|---|---|",
    ]
    for row in latency:
        lines.append(f"| {row['case']} | {row['n']} | {row['p50']:.1f} | {row['p95']:.1f} | {row['bytes'] / 1024:,.0f} "
                     "KiB |")
    lines += [
        "",
        f"## From the worker's `on_metrics` to metrics.json ({args.stream_points} points, one every "
        f"{args.stream_interval * 1000:.0f} ms)",
        "",
        "The sink writes a batch when it holds 200 points or its oldest point is 1 s old (checked on each",
        "new point and every 0.25 s by the heartbeat thread), so the server-side delay is at most about 1.25 s.",
        "",
        "| reader polls every | points seen | p50 (s) | p95 (s) | max (s) |",
        "|---|---|---|---|---|",
    ]
    for poll, delays in streams.items():
        label = "20 ms (server side alone)" if poll < 1 else "1.5 s (the job page)"
        lines.append(f"| {label} | {len(delays)} | {percentile(delays, 50):.2f} | {percentile(delays, 95):.2f} | "
                     f"{max(delays):.2f} |")
    table = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)
    print(table)
    return table


if __name__ == "__main__":
    main()
