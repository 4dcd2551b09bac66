"""Jobs end to end through the real Redis broker and real worker processes (tiny random backbone):
launch -> live metrics -> completion with accuracies and an adapter version; cancel mid-run; a
failure in plain words; a worker killed mid-job whose job resumes from its checkpoint elsewhere."""

import json

import pytest
from django.core.files.storage import default_storage

from tests.conftest import wait_for
from tests.webapp.factories import (
    FAST_TUNING,
    csrf_client,
    csrf_post,
    make_ready_version,
    make_runnable_job,
    tiny_config,
)
from tests.webapp.tiny_backbone import TINY_BACKBONE
from webapp.adapters.models import AdapterVersion
from webapp.jobs.forms import DEFAULT_METHOD
from webapp.jobs.models import Job, MetricPoint, WorkerStatus
from webapp.jobs.services import job_create, tune_config_from
from webapp.worker.reaper import jobs_requeue_stale
from webapp.worker.tasks import run_tuning_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def refreshed(job: Job) -> Job:
    job.refresh_from_db()
    return job


def running_with_points(job: Job, at_least: int = 1):
    """True once the job is still RUNNING and already has stored points (read in one snapshot order:
    points first, then the status, so a job that finished in between does not count)."""
    points = MetricPoint.objects.filter(job=job).count()
    return points >= at_least and refreshed(job).status == Job.Status.RUNNING


def test_launched_job_shows_live_metrics_then_completes_with_accuracies_and_an_adapter(celery_worker, make_user,
                                                                                      jobs_hold):
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", name="scratches", user=alice, per_class=6)
    client = csrf_client(alice)
    form = {"dataset_version": version.pk, "name": "", "model_line_name": "", "method": "sharpzo",
            **tiny_config(budget=600)}
    assert csrf_post(client, "/jobs/new/", form).status_code == 302
    job = Job.objects.get()

    wait_for(lambda: running_with_points(job), timeout=120, message="metric points while the job runs")
    live = client.get(f"/jobs/{job.pk}/metrics.json").json()
    assert live["points"]["seq"] and live["status"] == "running"
    jobs_hold.release()  # the rest of the run goes at full speed

    wait_for(lambda: refreshed(job).is_finished, timeout=180, message="the job to finish")
    assert job.status == Job.Status.COMPLETED, job.error + job.log
    assert 0 < job.queries_used <= job.budget and job.stage_switch_queries is not None
    assert job.zero_shot_accuracy is not None and job.tuned_accuracy is not None
    assert job.evaluation["class_names"] == ["blue", "green", "red"]
    assert len(job.evaluation["tuned"]["confusion"]) == 3 and len(job.evaluation["zero_shot"]["confusion"]) == 3
    assert job.worker_seconds > 0 and job.peak_memory_bytes > 0 and job.attempts == 1
    confusion, mistakes = job.evaluation["tuned"]["confusion"], job.evaluation["tuned"]["mistakes"]
    assert len(mistakes) == sum(map(sum, confusion)) - sum(confusion[k][k] for k in range(3))  # every wrong test image
    for m in mistakes:  # each an image of the dataset version, its thumbnail stored once by the worker
        assert client.get(f"/reports/jobs/{job.pk}/mistakes/{m['sha256']}.jpg").status_code == 200
    adapter = AdapterVersion.objects.get(job=job)
    assert adapter.model_line.name == "scratches" and adapter.number == 1 and adapter.backbone == TINY_BACKBONE
    assert job.checkpoint == ""  # cleared by the very update that finished the job
    # Housekeeping after the result (checkpoint files, the worker's figures) may lag on a loaded machine.
    wait_for(lambda: not default_storage.listdir(f"jobs/{job.pk}")[1], timeout=60, message="checkpoint files gone")
    figures = wait_for(lambda: next((t[TINY_BACKBONE] for t in WorkerStatus.objects.values_list("timings", flat=True)
                                     if t.get(TINY_BACKBONE, {}).get("jobs")), None),
                       timeout=60, message="the worker's figures refined by the job")
    # the next estimate for this backbone uses what this job measured: its finishing and its method's queries
    assert figures["jobs"] == 1 and figures["overhead_s"] > 0
    assert figures["query_s"]["sharpzo"]["a"] + figures["query_s"]["sharpzo"]["b"] > 0

    done = client.get(f"/jobs/{job.pk}/metrics.json?after={live['last_seq']}").json()
    assert done["finished"] and done["results"]["tuned_accuracy"] == job.tuned_accuracy
    assert done["results"]["adapter_version"] == "scratches v1"
    assert MetricPoint.objects.filter(job=job).count() == live["last_seq"] + len(done["points"]["seq"])


def test_cancel_mid_run_stops_the_worker_and_keeps_the_best_adapter(celery_worker, make_user, jobs_hold):
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", user=alice, per_class=6)
    job = job_create(user=alice, dataset_version=version, config=tune_config_from(tiny_config(budget=20000)))
    wait_for(lambda: running_with_points(job, at_least=3), timeout=120, message="a running job with points")
    assert csrf_post(csrf_client(alice), f"/jobs/{job.pk}/cancel/").status_code == 302
    wait_for(lambda: refreshed(job).is_finished, timeout=120, message="the worker to stop")
    assert job.status == Job.Status.CANCELLED, job.error + job.log
    assert job.queries_used < job.budget and job.tuned_accuracy is not None
    assert "best adapter" in job.error
    assert AdapterVersion.objects.filter(job=job).count() == 1


def test_a_failing_job_says_why_in_plain_words_and_keeps_the_traceback(celery_worker, make_user):
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", user=alice, per_class=4)
    job = job_create(user=alice, dataset_version=version,
                     config=tune_config_from(tiny_config(backbone="ViT-B-32@/nowhere/clip.pt")))
    wait_for(lambda: refreshed(job).is_finished, timeout=120, message="the job to fail")
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("The backbone could not be loaded: Checkpoint file not found: /nowhere/clip.pt")
    assert "Traceback (most recent call last)" in job.log and "Traceback" not in job.error
    assert not AdapterVersion.objects.filter(job=job).exists()


def test_job_of_a_killed_worker_is_requeued_and_resumes_from_its_checkpoint(start_worker, make_user, jobs_hold):
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", user=alice, per_class=6)
    job = make_runnable_job(version, user=alice, budget=1500)
    doomed = start_worker(queues="tuning-crash-test")  # only this worker gets the first delivery
    run_tuning_job.apply_async(args=[job.pk], queue="tuning-crash-test")
    wait_for(lambda: refreshed(job).checkpoint and job.queries_used >= 200 and job.status == Job.Status.RUNNING,
             timeout=180, message="a running job with a checkpoint")
    doomed.kill()  # SIGKILL, like a power cut: no cleanup, no acknowledgement
    jobs_hold.release()
    killed_at = refreshed(job).queries_used
    with default_storage.open(job.checkpoint) as handle:
        checkpoint_queries = json.load(handle)["queries"]
    # The sink flushes before each checkpoint, so the stored points reach the last evaluation before it;
    # a checkpoint may fall between two evaluations (every 10 steps vs every 4), at most one evaluation
    # interval of stage-2 steps (2 queries each) plus a mask refresh (2) past the last stored point.
    assert 0 < checkpoint_queries <= killed_at + 2 * FAST_TUNING["eval_every"] + 2

    start_worker(queues="tuning")  # a live machine
    wait_for(lambda: jobs_requeue_stale().requeued == [job.pk], timeout=60, message="the reaper to requeue it")
    wait_for(lambda: refreshed(job).is_finished, timeout=240, message="the resumed job to finish")
    assert job.status == Job.Status.COMPLETED, job.error + job.log
    assert job.attempts == 2 and job.queries_used <= job.budget
    resumed = [line for line in job.log.splitlines() if "resumed from a checkpoint" in line]
    assert resumed, job.log
    assert f"at {checkpoint_queries} queries" in resumed[0]
    went_on_at = int(resumed[0].split("went on at ")[1].split()[0])
    assert went_on_at > checkpoint_queries  # not from zero: the first new query after the checkpoint
    points = list(MetricPoint.objects.filter(job=job).order_by("seq").values_list("seq", "queries", "elapsed_s"))
    assert [seq for seq, *_ in points] == list(range(1, len(points) + 1))
    assert all(a[1] <= b[1] for a, b in zip(points, points[1:]))  # one monotone curve across both attempts
    assert all(a[2] <= b[2] for a, b in zip(points, points[1:]))  # the second attempt's clock starts behind
    assert AdapterVersion.objects.filter(job=job).count() == 1


def test_a_job_on_the_real_demo_backbone_completes(celery_worker, make_user):
    from tuning.demo_backbone import DEFAULT, recorded_sha256

    if not DEFAULT.checkpoint_path.exists():
        pytest.skip(f"the demo backbone is not built ({DEFAULT.checkpoint_path} is missing)")
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", user=alice, per_class=5)
    job = job_create(user=alice, dataset_version=version,
                     config=tune_config_from(tiny_config(backbone="demo", budget=60, intrinsic_dim=4)))
    wait_for(lambda: refreshed(job).is_finished, timeout=300, message="the demo-backbone job to finish")
    assert job.status == Job.Status.COMPLETED, job.error + job.log
    assert job.zero_shot_accuracy is not None and job.tuned_accuracy is not None
    adapter = AdapterVersion.objects.get(job=job)
    # "demo" is whichever version is the newest: its weights, not those of a version named here
    assert (adapter.backbone, adapter.backbone_sha256) == ("demo", recorded_sha256(DEFAULT))


def test_the_default_job_runs_auto_and_stores_its_leaderboard(celery_worker, make_user):
    """The form's default method through a real worker: the leaderboard reaches the job row and the job page."""
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", name="scratches", user=alice, per_class=6)
    client = csrf_client(alice)
    form = {"dataset_version": version.pk, "name": "", "model_line_name": "", **tiny_config(budget=300),
            "method": DEFAULT_METHOD}
    response = csrf_post(client, "/jobs/new/", form)
    assert response.status_code == 302, response.context["form"].errors
    job = Job.objects.get()
    assert job.method == "auto"
    wait_for(lambda: refreshed(job).is_finished, timeout=240, message="the auto job to finish")
    assert job.status == Job.Status.COMPLETED, job.error + job.log
    board = job.leaderboard
    keys = [e["key"] for e in board["entries"]]
    assert keys[:2] == ["zeroshot", "linear_probe"] and board["chosen"] in keys and board["reason"]
    assert any(k.startswith("cmaes@") for k in keys) and board["validation_images"] > 0
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="leaderboard"' in page and board["reason"].split(":")[0] in page
