"""A queued job says how many of the jobs ahead are other workspaces' and
when it should start; a running job's time left follows its own recent rate, not its average."""

import pytest
from django.utils import timezone

from tests.webapp.factories import csrf_client, make_ready_version, make_runnable_job
from webapp.jobs.models import Job, MetricPoint, WorkerStatus
from webapp.jobs.selectors import ETA_WINDOW_POINTS, job_eta_seconds

pytestmark = pytest.mark.django_db

# What the worker measured of itself: a query costs 0.1 s a class, an image 0.5 s to encode, a linear probe's
# fits 4 s; no load, no finishing
FIGURES = {"load_s": 0.0, "image_s": 0.5, "overhead_s": 0.0,
           "query_s": {"sharpzo": {"a": 0.0, "b": 0.1}, "linear_probe": {"a": 0.0, "b": 0.0, "run": 4.0}}}


@pytest.fixture
def measured(settings):
    settings.WORKER_KIND = "cpu"
    WorkerStatus.objects.create(hostname="w1", kind="cpu", last_seen=timezone.now(), queues=",tuning,",
                                timings={"tiny-test": FIGURES})  # a live tuning worker


def test_a_queued_job_says_whose_jobs_are_ahead_and_when_it_should_start(make_user, measured):
    alice = make_user("alice", workspace="Press line")
    ours = make_ready_version("Press line", per_class=6)  # 3 classes
    theirs = make_ready_version("Other plant", per_class=6)
    running = make_runnable_job(ours, status=Job.Status.RUNNING, budget=600)
    Job.objects.filter(pk=running.pk).update(queries_used=300, attempts=1, heartbeat_at=timezone.now())
    MetricPoint.objects.create(job=running, seq=1, step=1, stage="s", queries=300, elapsed_s=100.0)  # 3 queries/s
    make_runnable_job(theirs, budget=400)  # 400 x 3 classes / 10 per s = 120 s, and 18 images x 0.5 s = 9 s
    make_runnable_job(ours, budget=200)  # 60 s: the running job has encoded these images
    mine = make_runnable_job(ours, budget=200)

    body = csrf_client(alice).get(f"/jobs/{mine.pk}/metrics.json").json()
    assert body["queue_position"] == 3 and body["queue_others_ahead"] == 1
    # One busy worker, free in 100 s (300 queries left at 3 per s), then 129 s and 60 s of queued work.
    assert body["start_in_seconds"] == pytest.approx(289.0)
    assert body["status_text"] == ("Queued, position 3 in the queue (1 of the jobs ahead is from other workspaces); "
                                   "it should start in about 4 min 49 s")
    page = csrf_client(alice).get("/jobs/").content.decode()
    assert "(1 of the jobs ahead is from other workspaces)" in page


def test_the_first_queued_job_with_an_idle_worker_should_start_now(make_user, measured):
    alice = make_user("alice", workspace="Press line")
    job = make_runnable_job(make_ready_version("Press line", per_class=6))
    body = csrf_client(alice).get(f"/jobs/{job.pk}/metrics.json").json()
    assert body["start_in_seconds"] == 0 and body["status_text"].endswith("; it should start now")


def test_time_left_follows_the_recent_rate_not_the_average(make_user, measured):
    version = make_ready_version("Press line", per_class=6)
    job = make_runnable_job(version, status=Job.Status.RUNNING, budget=10_000)
    # Slow start (stage 1: 1 query per second for 1,000 s), then 10 queries per second.
    points = [(1, 1000, 1000.0)] + [(2 + i, 1000 + 100 * (i + 1), 1000.0 + 10 * (i + 1))
                                    for i in range(ETA_WINDOW_POINTS)]
    MetricPoint.objects.bulk_create([MetricPoint(job=job, seq=s, step=s, stage="s", queries=q, elapsed_s=t)
                                     for s, q, t in points])
    Job.objects.filter(pk=job.pk).update(queries_used=3000)
    job.refresh_from_db()
    assert job_eta_seconds(job) == pytest.approx(7000 / 10.0)  # the average (3000 / 1200 s) would say 2,800 s


def test_time_left_moves_between_points_and_says_when_the_job_is_slower_than_its_pace(make_user, measured):
    """The walkthrough saw "about 23 min left" stand still for 6 minutes: points (and so queries_used) arrive
    only at evaluations. The time left counts down from when the latest points were stored."""
    from datetime import timedelta

    from webapp.jobs.selectors import job_status_text

    version = make_ready_version("Press line", per_class=6)
    job = make_runnable_job(version, status=Job.Status.RUNNING, budget=1000)
    MetricPoint.objects.create(job=job, seq=1, step=1, stage="s", queries=400, elapsed_s=400.0)  # 1 query per s
    stored = timezone.now()
    Job.objects.filter(pk=job.pk).update(queries_used=400, progress_at=stored, heartbeat_at=stored)
    job.refresh_from_db()
    assert job_eta_seconds(job, now=stored) == pytest.approx(600.0)
    assert job_eta_seconds(job, now=stored + timedelta(minutes=6)) == pytest.approx(240.0)
    assert job_eta_seconds(job, now=stored + timedelta(minutes=11)) == 0.0

    # Past its time left with no new point (its worker still beats): said in words, and the wait grows.
    Job.objects.filter(pk=job.pk).update(progress_at=timezone.now() - timedelta(minutes=12))
    job.refresh_from_db()
    text = job_status_text(job, eta=job_eta_seconds(job))
    assert text.startswith("Running, 400 of 1,000 queries; slower than its recent pace, its last progress report "
                           "was 12 min ago"), text


def test_a_job_never_waits_for_itself(make_user, measured):
    """A page that read the job as queued while the worker claimed it: the running job is itself."""
    from webapp.jobs.queue_outlook import job_start_in_seconds

    make_user("alice", workspace="Press line")
    job = make_runnable_job(make_ready_version("Press line", per_class=6), budget=2000)
    seen_queued = Job.objects.get(pk=job.pk)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, attempts=1, started_at=timezone.now())
    assert job_start_in_seconds(seen_queued) == 0


def test_a_fast_method_says_its_time_left_from_what_it_spends_not_its_budget(make_user, measured):
    """A linear probe spends one query whatever its budget: once it has, its fits and finishing are left
    (before, the budget of 2,000 queries made it say over an hour)."""
    version = make_ready_version("Press line", per_class=6)
    job = make_runnable_job(version, status=Job.Status.RUNNING, budget=2000, method="linear_probe")
    MetricPoint.objects.create(job=job, seq=1, step=0, stage="zeroshot", queries=1, elapsed_s=0.2)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(queries_used=1, attempts=1, started_at=now, progress_at=now, heartbeat_at=now)
    job.refresh_from_db()
    assert job_eta_seconds(job, now=now) == pytest.approx(4.0)
    # a tuning job before its first point: the model's time (18 images at 0.5 s, 200 queries at 0.3 s) less
    # the time since it started
    from datetime import timedelta
    tuning = make_runnable_job(version, status=Job.Status.RUNNING, budget=200)
    Job.objects.filter(pk=tuning.pk).update(attempts=1, started_at=now - timedelta(seconds=10))
    tuning.refresh_from_db()
    assert job_eta_seconds(tuning, now=now) == pytest.approx(9 + 60 - 10)


def test_a_job_in_its_start_up_names_the_step_and_shows_the_encodings_progress(make_user, measured):
    from webapp.jobs.selectors import job_progress, job_status_text

    job = make_runnable_job(make_ready_version("Press line", per_class=6), status=Job.Status.RUNNING, budget=200)
    Job.objects.filter(pk=job.pk).update(attempts=1, started_at=timezone.now(),
                                         startup={"step": "encoding", "done": 6, "total": 18})
    job.refresh_from_db()
    assert job_status_text(job).startswith("Running: encoding 18 images (6 done)")
    assert job_progress(job) == pytest.approx(1 / 3)
    Job.objects.filter(pk=job.pk).update(startup={"step": "zeroshot"})
    job.refresh_from_db()
    assert "evaluating the untuned model (zero-shot)" in job_status_text(job)


def test_the_work_after_a_methods_last_query_stays_in_its_time_left(make_user, settings):
    """A search weighs the cheaper candidates against its adapter after its last query (the method's 'run'
    seconds), then the job finishes: a short job said "0 s left" with both still to come."""
    settings.WORKER_KIND = "cpu"
    figures = {**FIGURES, "overhead_s": 2.0, "query_s": {"sharpzo": {"a": 0.0, "b": 0.1, "run": 5.0}}}
    WorkerStatus.objects.create(hostname="w1", kind="cpu", last_seen=timezone.now(), queues=",tuning,",
                                timings={"tiny-test": figures})
    job = make_runnable_job(make_ready_version("Press line", per_class=6), status=Job.Status.RUNNING, budget=1000)
    MetricPoint.objects.create(job=job, seq=1, step=1, stage="s", queries=400, elapsed_s=400.0)  # 1 query per s
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(queries_used=400, attempts=1, started_at=now, progress_at=now)
    job.refresh_from_db()
    assert job_eta_seconds(job, now=now) == pytest.approx(600 + 5 + 2)

    MetricPoint.objects.create(job=job, seq=2, step=2, stage="s", queries=1000, elapsed_s=1000.0)
    Job.objects.filter(pk=job.pk).update(queries_used=1000)
    job.refresh_from_db()
    assert job_eta_seconds(job, now=now) == pytest.approx(5 + 2)


def test_jobs_behind_one_on_the_same_images_find_them_encoded(make_user, measured):
    """Image features are cached per backbone: of the jobs on the same images (18 at 0.5 s), only the first
    encodes them, the running one included. The queue counted 9 s again for every other job on them."""
    from webapp.jobs.queue_outlook import job_start_in_seconds

    make_user("alice", workspace="Press line")
    older, new = (make_ready_version("Press line", per_class=6) for _ in range(2))  # 3 classes, 18 images each
    running = make_runnable_job(older, status=Job.Status.RUNNING, budget=200)  # no point yet: 9 s + 60 s left
    Job.objects.filter(pk=running.pk).update(attempts=1, started_at=timezone.now())
    make_runnable_job(older, budget=100)  # 30 s: the running job encoded its images
    make_runnable_job(new, budget=200)  # 9 s + 60 s
    make_runnable_job(new, budget=100)  # 30 s
    mine = make_runnable_job(new, budget=100)
    assert job_start_in_seconds(mine) == pytest.approx(69 + 30 + 69 + 30, abs=1.0)


def test_time_left_early_in_a_job_blends_its_pace_with_the_model(make_user, measured):
    """The first points are few (and a search's first generations lack work its later ones do): until a fifth of
    the budget is spent, a query's seconds move from the model's (0.3 s at 3 classes) to the job's own."""
    from webapp.jobs.selectors import ETA_MODEL_UNTIL

    job = make_runnable_job(make_ready_version("Press line", per_class=6), status=Job.Status.RUNNING, budget=1000)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(attempts=1, started_at=now, progress_at=now)
    MetricPoint.objects.create(job=job, seq=1, step=1, stage="s", queries=100, elapsed_s=50.0)  # 0.5 s a query
    Job.objects.filter(pk=job.pk).update(queries_used=100)
    job.refresh_from_db()
    own = 0.1 / ETA_MODEL_UNTIL  # 10% of the budget spent
    assert job_eta_seconds(job, now=now) == pytest.approx(900 * (own * 0.5 + (1 - own) * 0.3))
    MetricPoint.objects.create(job=job, seq=2, step=2, stage="s", queries=300, elapsed_s=150.0)
    Job.objects.filter(pk=job.pk).update(queries_used=300)
    job.refresh_from_db()
    assert job_eta_seconds(job, now=now) == pytest.approx(700 * 0.5)  # its own pace alone
