"""The run-time and cost estimate shown before launch: a cautious default until a worker has
measured the backbone, then the measured rate; the JSON endpoint the form asks as values change.
It counts the dataset's images as well as its classes; a sparse adapter's
queries also run the training images through the image model."""

import pytest
from django.utils import timezone

from tests.webapp.factories import csrf_client, make_ready_version
from webapp.jobs.estimates import DEFAULT_RATES, DEFAULT_SECONDS_PER_IMAGE, Workload, job_estimate
from webapp.jobs.models import WorkerStatus
from webapp.worker.status import worker_status_record_rate

pytestmark = pytest.mark.django_db


def test_without_measurements_a_cautious_default_is_used_and_said(settings):
    settings.COST_PER_WORKER_HOUR = 3.6
    estimate = job_estimate(backbone="demo", workload=Workload(queries=1000, num_classes=4), kind="cpu")
    assert not estimate.measured
    assert estimate.seconds == pytest.approx(1000 * 4 / DEFAULT_RATES["cpu"])
    assert estimate.cost == pytest.approx(estimate.seconds / 3600 * 3.6, rel=1e-3)
    assert "cautious default" in estimate.basis


def test_measured_rate_of_that_backbone_on_that_kind_of_worker_is_used():
    worker_status_record_rate(backbone="demo", class_prompts_per_second=400.0, hostname="gpu-1", kind="gpu")
    worker_status_record_rate(backbone="demo", class_prompts_per_second=100.0, hostname="box-1", kind="cpu")
    worker_status_record_rate(backbone="other", class_prompts_per_second=5.0, hostname="box-2", kind="cpu")
    estimate = job_estimate(backbone="demo", workload=Workload(queries=1000, num_classes=2), kind="cpu")
    assert estimate.measured and estimate.rate == 100.0
    assert estimate.seconds == pytest.approx(20.0)
    assert "Measured on 1 cpu worker" in estimate.basis


def test_each_finished_job_moves_the_workers_rate():
    worker_status_record_rate(backbone="demo", class_prompts_per_second=100.0, hostname="box", kind="cpu")
    status = worker_status_record_rate(backbone="demo", class_prompts_per_second=200.0, hostname="box", kind="cpu")
    assert status.class_prompts_per_second["demo"] == pytest.approx(150.0)


def test_endpoint_updates_with_budget_and_counts_the_datasets_classes(alice, settings):
    settings.WORKER_KIND = "cpu"
    version = make_ready_version("Press line", classes=("a", "b", "c", "d"), per_class=3)
    WorkerStatus.objects.create(hostname="box", kind="cpu", last_seen=timezone.now(),
                                class_prompts_per_second={"demo": 40.0})
    client = csrf_client(alice)
    small = client.get("/jobs/estimate.json", {"budget": 100, "backbone": "demo", "dataset_version": version.pk}).json()
    large = client.get("/jobs/estimate.json",
                       {"budget": 1000, "backbone": "demo", "dataset_version": version.pk}).json()
    images = 4 * 3 * DEFAULT_SECONDS_PER_IMAGE["cpu"]  # not measured yet: the cautious default per image
    assert small["num_classes"] == 4 and small["num_images"] == 12 and small["measured"]
    assert small["seconds"] == pytest.approx(10.0 + images) and large["seconds"] == pytest.approx(100.0 + images)
    assert large["text"].startswith("About 1 min 41 s of worker time")
    assert "Images: 12 at" in large["basis"]


def test_methods_that_read_cached_features_only_are_estimated_at_one_query(alice, settings):
    settings.WORKER_KIND = "cpu"
    WorkerStatus.objects.create(hostname="box", kind="cpu", last_seen=timezone.now(),
                                class_prompts_per_second={"demo": 2.0})
    client = csrf_client(alice)
    probe = client.get("/jobs/estimate.json", {"budget": 2000, "backbone": "demo", "method": "linear_probe"}).json()
    tuned = client.get("/jobs/estimate.json", {"budget": 2000, "backbone": "demo", "method": "sharpzo"}).json()
    assert probe["seconds"] == pytest.approx(1.0) and tuned["seconds"] == pytest.approx(2000.0)


def test_endpoint_refuses_a_bad_budget_in_words(alice):
    response = csrf_client(alice).get("/jobs/estimate.json", {"budget": "lots", "backbone": "demo"})
    assert response.status_code == 400 and "whole number" in response.json()["error"]


def test_endpoint_does_not_reveal_another_workspaces_dataset(alice, make_user):
    version = make_ready_version("Paint shop", per_class=3)
    response = csrf_client(alice).get("/jobs/estimate.json",
                                      {"budget": 10, "backbone": "demo", "dataset_version": version.pk})
    assert response.status_code == 404


def test_more_images_take_longer_at_the_rate_workers_measured_per_image(alice, settings):
    settings.WORKER_KIND = "cpu"
    worker_status_record_rate(backbone="demo", class_prompts_per_second=40.0, seconds_per_image=0.5,
                              hostname="box", kind="cpu")
    few = make_ready_version("Press line", classes=("a", "b"), per_class=3)
    many = make_ready_version("Press line", classes=("a", "b"), per_class=9)
    client = csrf_client(alice)
    ask = {"budget": 200, "backbone": "demo", "method": "sharpzo"}
    small = client.get("/jobs/estimate.json", {**ask, "dataset_version": few.pk}).json()
    large = client.get("/jobs/estimate.json", {**ask, "dataset_version": many.pk}).json()
    assert small["tuning_seconds"] == large["tuning_seconds"] == pytest.approx(200 * 2 / 40.0)
    assert small["image_seconds"] == pytest.approx(6 * 0.5) and large["image_seconds"] == pytest.approx(18 * 0.5)
    assert "(measured)" in large["basis"]


def test_a_sparse_adapter_costs_its_training_images_per_query(alice, settings):
    settings.WORKER_KIND = "cpu"
    version = make_ready_version("Press line", classes=("a", "b"), per_class=9)
    worker_status_record_rate(backbone="demo", class_prompts_per_second=40.0, hostname="box", kind="cpu")
    client = csrf_client(alice)
    ask = {"budget": 200, "backbone": "demo", "method": "sharpzo", "dataset_version": version.pk, "shots": 4}
    prompt = client.get("/jobs/estimate.json", ask).json()
    sparse = client.get("/jobs/estimate.json", {**ask, "adapt": "sparse"}).json()
    assert prompt["tuning_seconds"] == pytest.approx(200 * 2 / 40.0)
    # 2 class prompts + 8 training images per query, at the prompt rate until a sparse job has measured its own
    assert sparse["tuning_seconds"] == pytest.approx(200 * (2 + 8) / 40.0) and not sparse["measured"]
    assert "no sparse-adapter job has finished" in sparse["basis"]
    worker_status_record_rate(backbone="demo", sparse_units_per_second=100.0, hostname="box", kind="cpu")
    sparse = client.get("/jobs/estimate.json", {**ask, "adapt": "sparse"}).json()
    assert sparse["tuning_seconds"] == pytest.approx(200 * 10 / 100.0) and sparse["measured"]
    # a method that cannot tune sparse adapters is estimated as what it is
    probe = client.get("/jobs/estimate.json", {**ask, "adapt": "sparse", "method": "linear_probe"}).json()
    assert probe["tuning_seconds"] == pytest.approx(1 * 2 / 40.0, abs=0.1)


def test_a_time_budget_becomes_the_queries_that_fit_in_it_on_the_form_and_the_endpoint(alice, settings):
    """A budget given in minutes of worker time, converted with the measured rates."""
    from tests.webapp.factories import FAST_TUNING, csrf_post
    from tests.webapp.tiny_backbone import TINY_BACKBONE
    from webapp.jobs.models import Job

    settings.WORKER_KIND = "cpu"
    version = make_ready_version("Press line", classes=("a", "b", "c"), per_class=4)
    WorkerStatus.objects.create(hostname="box", kind="cpu", last_seen=timezone.now(),
                                class_prompts_per_second={TINY_BACKBONE: 30.0}, seconds_per_image={TINY_BACKBONE: 0.5})
    # 2 minutes: 12 images x 0.5 s to read, then 114 s at 30 class prompts/s, 3 prompts a query
    fits = (120 - 12 * 0.5) * 30.0 / 3
    client = csrf_client(alice)
    ask = {"backbone": TINY_BACKBONE, "dataset_version": version.pk, "method": "sharpzo", "minutes": 2}
    answer = client.get("/jobs/estimate.json", ask).json()
    assert answer["budget"] == int(fits) and answer["seconds"] == pytest.approx(120, abs=1)
    assert "whole minutes" in client.get("/jobs/estimate.json", {**ask, "minutes": 0}).json()["error"]

    form = {"dataset_version": version.pk, "backbone": TINY_BACKBONE, "method": "sharpzo", "adapt": "prompt",
            "shots": 2, "seed": 0, "budget": 300, "budget_minutes": 2, "name": "", "model_line_name": "", **FAST_TUNING}
    assert csrf_post(client, "/jobs/new/", form).status_code == 302
    assert Job.objects.get().budget == int(fits)  # the minutes win over the budget field

    WorkerStatus.objects.filter(hostname="box").update(seconds_per_image={TINY_BACKBONE: 30.0})  # 6 min of images
    refused = csrf_post(client, "/jobs/new/", {**form, "budget_minutes": 5})
    assert refused.status_code == 200 and "5 minutes are not enough" in refused.content.decode()
