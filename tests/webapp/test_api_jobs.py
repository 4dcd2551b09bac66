"""Creating a job over the API (the web form's checks and messages), following its state and metric
points incrementally by seq, and cancelling it; with the same workspace rules as the pages."""

import json

import pytest
from django.test import Client

from tests.webapp.factories import make_api_token, make_finished_job, make_ready_version, make_version_for_job
from webapp.jobs.forms import DEFAULT_METHOD
from webapp.jobs.models import Job, MetricPoint

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, user):
        self.client, self.auth = Client(), f"Bearer {make_api_token(user)}"

    def get(self, url):
        return self.client.get(url, HTTP_AUTHORIZATION=self.auth)

    def post(self, url, body=None, raw=None):
        data = raw if raw is not None else json.dumps(body or {})
        return self.client.post(url, data, content_type="application/json", HTTP_AUTHORIZATION=self.auth)


@pytest.fixture
def engineer(make_user):
    return Api(make_user("erin", workspace="Press line"))


@pytest.fixture
def dataset():
    return make_ready_version("Press line", name="scratches", per_class=6)


def test_engineer_creates_a_job_with_defaults_and_it_is_queued_once_committed(engineer, dataset,
                                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = engineer.post("/api/v1/jobs/", {"dataset_version": dataset.pk, "budget": 300, "shots": 2,
                                                   "backbone": "tiny-test", "model_line": "press line 3",
                                                   "config": {"intrinsic_dim": 16}})
    assert response.status_code == 201, response.json()
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert (job.status, job.budget, job.shots, job.method, job.model_line_name) == (
        "queued", 300, 2, DEFAULT_METHOD, "press line 3")  # the web form's default
    assert DEFAULT_METHOD == "auto" and job.config["adapt"] == "prompt"  # auto chooses what to tune itself
    assert job.config["intrinsic_dim"] == 16 and job.created_by.username == "erin"
    assert body["status"] == "queued" and body["url"] == f"/api/v1/jobs/{job.pk}/" and len(callbacks) == 1


def test_omitted_fields_take_the_chosen_methods_own_defaults(engineer, dataset, django_capture_on_commit_callbacks):
    # The form's default "what to adapt" (sparse) is for methods that can use it; a linear probe cannot.
    with django_capture_on_commit_callbacks(execute=False):
        response = engineer.post("/api/v1/jobs/", {"dataset_version": dataset.pk, "method": "linear_probe",
                                                   "shots": 2, "backbone": "tiny-test"})
    assert response.status_code == 201, response.json()
    assert Job.objects.get(pk=response.json()["id"]).config["adapt"] == "prompt"
    refused = engineer.post("/api/v1/jobs/", {"dataset_version": dataset.pk, "method": "linear_probe", "shots": 2,
                                              "backbone": "tiny-test", "adapt": "sparse"})
    assert refused.status_code == 400 and "adapt" in refused.json()["fields"]  # said out loud, still refused


@pytest.mark.parametrize("body, field, words", [
    ({"shots": 5}, "shots", "5 shots need 7 images in every class"),
    ({"method": "magic"}, "method", "magic"),
    ({"budget": 0}, "budget", "budget"),
    ({"backbone": "not-installed"}, "backbone", "not-installed"),
])
def test_same_checks_and_messages_as_the_web_form(engineer, dataset, body, field, words):
    response = engineer.post("/api/v1/jobs/", {"dataset_version": dataset.pk, **body})
    assert response.status_code == 400
    assert field in response.json()["fields"] and words in response.json()["error"]
    assert not Job.objects.exists()


def test_malformed_requests_get_plain_400s(engineer, dataset):
    assert "not valid JSON" in engineer.post("/api/v1/jobs/", raw="{nope").json()["error"]
    assert "dataset_version" in engineer.post("/api/v1/jobs/", {"budget": 10}).json()["error"]
    unknown = engineer.post("/api/v1/jobs/", {"dataset_version": dataset.pk, "colour": "red"})
    assert unknown.status_code == 400 and "Unknown field(s): colour" in unknown.json()["error"]


def test_viewer_gets_403_and_another_workspace_404(make_user, dataset):
    viewer = Api(make_user("victor", workspace="Press line", role="viewer"))
    assert viewer.post("/api/v1/jobs/", {"dataset_version": dataset.pk}).status_code == 403
    mallory = Api(make_user("mallory", workspace="Other site"))
    assert mallory.post("/api/v1/jobs/", {"dataset_version": dataset.pk}).json() == {"error": "Not found."}
    job = make_finished_job("Press line", dataset_version=dataset, status=Job.Status.QUEUED)
    assert mallory.get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert mallory.post(f"/api/v1/jobs/{job.pk}/cancel/").status_code == 404
    assert viewer.post(f"/api/v1/jobs/{job.pk}/cancel/").status_code == 403
    assert [j["id"] for j in mallory.get("/api/v1/jobs/").json()["results"]] == []
    assert [j["id"] for j in viewer.get("/api/v1/jobs/").json()["results"]] == [job.pk]
    assert not Job.objects.exclude(pk=job.pk).exists() and Job.objects.get(pk=job.pk).status == "queued"


def test_state_and_metrics_follow_incrementally_by_seq(engineer, dataset, tmp_path):
    job = make_finished_job("Press line", dataset_version=dataset, status=Job.Status.RUNNING, queries_used=40)
    MetricPoint.objects.bulk_create([
        MetricPoint(job=job, seq=s, step=s, stage="cmaes", queries=10 * s, train_loss=1.0 / s, val_acc=0.1 * s,
                    elapsed_s=float(s)) for s in range(1, 5)])
    first = engineer.get(f"/api/v1/jobs/{job.pk}/").json()
    assert first["status"] == "running" and first["queries_used"] == 40 and first["last_seq"] == 4
    assert first["points"]["seq"] == [1, 2, 3, 4] and first["points"]["queries"] == [10, 20, 30, 40]
    MetricPoint.objects.create(job=job, seq=5, step=5, stage="zo", queries=50, train_loss=0.1, elapsed_s=5.0)
    later = engineer.get(f"/api/v1/jobs/{job.pk}/?after={first['last_seq']}").json()
    assert later["points"]["seq"] == [5] and later["points"]["stage"] == ["zo"] and later["last_seq"] == 5
    assert engineer.get(f"/api/v1/jobs/{job.pk}/?after=5").json()["points"]["seq"] == []
    assert engineer.get(f"/api/v1/jobs/{job.pk}/?after=x").status_code == 400

    Job.objects.filter(pk=job.pk).update(status=Job.Status.COMPLETED, zero_shot_accuracy=0.6, tuned_accuracy=0.9)
    job.refresh_from_db()
    version = make_version_for_job(job, tmp_path)
    done = engineer.get(f"/api/v1/jobs/{job.pk}/?after=5").json()
    assert done["finished"] and done["results"]["tuned_accuracy"] == 0.9
    assert done["adapter_archive_url"] == f"/api/v1/adapters/{version.pk}/archive/"
    assert done["leaderboard"] is None  # a job from before leaderboards (and the no-query methods) has none
    board = {"entries": [], "chosen": "linear_probe", "validation_images": 96, "reason": "Linear probe won."}
    Job.objects.filter(pk=job.pk).update(leaderboard=board)
    assert engineer.get(f"/api/v1/jobs/{job.pk}/").json()["leaderboard"] == board


def test_engineer_cancels_a_queued_job(engineer, dataset):
    job = make_finished_job("Press line", dataset_version=dataset, status=Job.Status.QUEUED)
    response = engineer.post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_a_budget_in_minutes_is_converted_with_the_measured_figures(engineer, dataset):
    """By the time model (webapp/jobs/time_model.py) and what the worker measured of itself."""
    from django.utils import timezone

    from webapp.jobs.models import WorkerStatus

    WorkerStatus.objects.create(hostname="box", kind="cpu", last_seen=timezone.now(), timings={"tiny-test": {
        "load_s": 4.0, "image_s": 0.5, "overhead_s": 2.0, "query_s": {"sharpzo": {"a": 0.0, "b": 0.05}}}})
    response = engineer.post("/api/v1/jobs/", {"dataset_version": dataset.pk, "budget_minutes": 10, "shots": 2,
                                               "method": "sharpzo", "adapt": "prompt", "backbone": "tiny-test"})
    assert response.status_code == 201, response.json()
    classes, images = len(dataset.class_counts), sum(dataset.class_counts.values())
    # 10 minutes less loading (4 s), encoding (0.5 s an image) and finishing (2 s), at 0.05 s a class a query
    expected = int((600 - (4.0 + images * 0.5) - 2.0) / (0.05 * classes))
    assert Job.objects.get(pk=response.json()["id"]).budget == expected
