"""A long job's curves: the first load of metrics.json is downsampled in the database and keeps the
lowest and highest value of every stretch of every curve; increments, full=1, the CSV and the API
give every point."""

import csv
import io
import random

import pytest
from django.test import Client

from tests.webapp.factories import csrf_client, make_api_token, make_ready_version, make_runnable_job
from webapp.jobs import curve_shape
from webapp.jobs.models import MetricPoint

POINTS = 9_000


@pytest.fixture
def long_job(alice):
    job = make_runnable_job(make_ready_version("Press line"), user=alice, status="running")
    rng = random.Random(7)
    rows = []
    for seq in range(1, POINTS + 1):
        loss = 2.0 / (1 + seq / 500) + rng.gauss(0, 0.05) + (3.0 if rng.random() < 0.002 else 0.0)  # rare spikes
        rows.append(MetricPoint(
            job=job, seq=seq, step=seq, stage="cmaes" if seq < 3000 else "zo", queries=2 * seq, train_loss=loss,
            val_acc=round(rng.random(), 2) if seq % 7 == 0 else None,
            sharpness=rng.gauss(0, 1) if seq % 3 == 0 else None,
            sparsity=0.5, elapsed_s=seq * 0.01))
    MetricPoint.objects.bulk_create(rows, batch_size=2000)
    return job


def test_first_load_keeps_the_minimum_and_maximum_of_every_bucket(alice, long_job):
    body = csrf_client(alice).get(f"/jobs/{long_job.pk}/metrics.json").json()
    got = body["points"]
    assert body["downsampled"] is True
    assert len(got["seq"]) <= curve_shape.MAX_POINTS
    assert got["seq"] == sorted(got["seq"]) and body["last_seq"] == POINTS  # increments continue from the end

    everything = list(MetricPoint.objects.filter(job=long_job).order_by("seq").values())
    by_seq = {row["seq"]: row for row in everything}
    kept = set(got["seq"])
    for series in curve_shape.SERIES:
        # what was sent is what is stored, point for point
        assert all(got[series][i] == by_seq[seq][series] for i, seq in enumerate(got["seq"]))
        buckets: dict[int, list[float]] = {}
        for row in everything:
            if row[series] is not None:
                buckets.setdefault(curve_shape.bucket_of(row["seq"], 1, POINTS), []).append(row[series])
        sent: dict[int, set[float]] = {}
        for seq in kept:
            if by_seq[seq][series] is not None:
                sent.setdefault(curve_shape.bucket_of(seq, 1, POINTS), set()).add(by_seq[seq][series])
        assert len(buckets) == curve_shape.BUCKETS
        for bucket, values in buckets.items():
            assert min(values) in sent[bucket] and max(values) in sent[bucket], (series, bucket)


def test_a_new_point_is_in_the_next_first_load(alice, long_job):
    client = csrf_client(alice)
    assert client.get(f"/jobs/{long_job.pk}/metrics.json").json()["last_seq"] == POINTS
    MetricPoint.objects.create(job=long_job, seq=POINTS + 1, step=POINTS + 1, stage="zo", queries=2 * POINTS + 2,
                               train_loss=-5.0, elapsed_s=POINTS)
    again = client.get(f"/jobs/{long_job.pk}/metrics.json").json()
    assert again["last_seq"] == POINTS + 1 and -5.0 in again["points"]["train_loss"]


def test_increments_full_series_csv_and_api_give_every_point(alice, long_job):
    client = csrf_client(alice)
    later = client.get(f"/jobs/{long_job.pk}/metrics.json?after=8990").json()
    assert later["points"]["seq"] == list(range(8991, POINTS + 1)) and later["downsampled"] is False
    full = client.get(f"/jobs/{long_job.pk}/metrics.json?full=1").json()
    assert full["points"]["seq"] == list(range(1, POINTS + 1))

    response = client.get(f"/jobs/{long_job.pk}/metrics.csv")
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:4] == ["seq", "step", "stage", "queries"] and len(table) == POINTS + 1
    assert float(table[42][4]) == MetricPoint.objects.get(job=long_job, seq=42).train_loss

    api = Client().get(f"/api/v1/jobs/{long_job.pk}/", HTTP_AUTHORIZATION=f"Bearer {make_api_token(alice)}").json()
    assert api["points"]["seq"] == list(range(1, POINTS + 1))


def test_a_short_job_is_sent_whole(alice):
    job = make_runnable_job(make_ready_version("Press line"), user=alice, status="running")
    MetricPoint.objects.bulk_create(MetricPoint(job=job, seq=s, step=s, stage="zo", queries=s, train_loss=1.0 / s,
                                                elapsed_s=s) for s in range(1, 51))
    body = csrf_client(alice).get(f"/jobs/{job.pk}/metrics.json").json()
    assert body["points"]["seq"] == list(range(1, 51)) and body["downsampled"] is False


def test_another_workspace_cannot_download_the_curves(long_job, make_user):
    bob = make_user("bob", workspace="Other plant")
    assert csrf_client(bob).get(f"/jobs/{long_job.pk}/metrics.csv").status_code == 404
