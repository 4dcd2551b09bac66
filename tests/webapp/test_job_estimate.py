"""The run-time and cost estimate shown before launch: one time model (webapp/jobs/time_model.py) fed with
what workers measured of themselves when they started, refined by finished jobs; the JSON endpoint the form
asks as values change, and a time budget in minutes turned into queries by the same model."""

import dataclasses

import pytest
from django.utils import timezone

from tests.webapp.factories import csrf_client, make_ready_version
from webapp.jobs.estimates import Workload, job_estimate, workload_of
from webapp.jobs.models import WorkerStatus
from webapp.jobs.time_model import DEFAULT_FIGURES, Figures, job_time, queries_in
from webapp.worker.status import worker_status_record_timings, worker_status_refine_timings

pytestmark = pytest.mark.django_db

# What a worker measured of itself on the demo backbone: 4 s to load, 0.05 s an image, 2 s to finish a job;
# CMA-ES queries cost 0.01 + 0.005 K s, SharpZO's 0.02 + 0.01 K s.
MEASURED = {"load_s": 4.0, "image_s": 0.05, "overhead_s": 2.0,
            "query_s": {"cmaes": {"a": 0.01, "b": 0.005}, "sharpzo": {"a": 0.02, "b": 0.01}}}


def measured_worker(hostname="box", kind="cpu", backbone="demo", **changes):
    return WorkerStatus.objects.create(hostname=hostname, kind=kind, last_seen=timezone.now(),
                                       timings={backbone: {**MEASURED, **changes}})


def test_the_model_adds_start_up_tuning_and_finishing():
    figures = Figures.from_record(MEASURED)
    time = job_time(figures, Workload(method="sharpzo", queries=1000, num_classes=6, num_images=240))
    assert time.startup_s == pytest.approx(4.0 + 240 * 0.05)
    assert time.tuning_s == pytest.approx(1000 * (0.02 + 0.01 * 6))
    assert time.seconds == pytest.approx(16.0 + 80.0 + 2.0) and time.measured
    # a held backbone and cached features cost nothing; a method not measured borrows the slowest one
    warm = job_time(figures, Workload(method="auto", queries=1000, num_classes=6, load_backbone=False))
    assert warm.startup_s == 0 and warm.tuning_s == pytest.approx(80.0) and not warm.measured


def test_minutes_become_the_queries_the_same_model_fits_in_them():
    figures = Figures.from_record(MEASURED)
    workload = Workload(method="cmaes", queries=0, num_classes=4, num_images=100)
    queries = queries_in(figures, workload, 10 * 60)
    # 600 s less 4 s loading, 5 s encoding, 2 s finishing, at 0.03 s a query
    assert queries == int((600 - 4 - 5 - 2) / 0.03)
    assert job_time(figures, Workload(method="cmaes", queries=queries, num_classes=4, num_images=100)).seconds <= 600
    assert queries_in(figures, workload, 10) == 0


def test_without_measurements_a_default_is_used_and_said(settings):
    settings.COST_PER_WORKER_HOUR = 3.6
    estimate = job_estimate(backbone="demo", workload=Workload(method="cmaes", queries=1000, num_classes=4), kind="cpu")
    a, b = DEFAULT_FIGURES["cpu"]["query"]
    assert not estimate.measured
    assert estimate.tuning_seconds == pytest.approx(1000 * (a + 4 * b))
    assert estimate.cost == pytest.approx(estimate.seconds / 3600 * 3.6, rel=1e-3)
    assert "No cpu worker has measured this backbone yet" in estimate.basis


def test_the_figures_of_that_backbone_on_that_kind_of_worker_are_used():
    measured_worker("gpu-1", kind="gpu", query_s={"cmaes": {"a": 0.0, "b": 0.0001}})
    measured_worker("box-1")
    measured_worker("box-2", backbone="other", query_s={"cmaes": {"a": 5.0, "b": 5.0}})
    estimate = job_estimate(backbone="demo", workload=Workload(method="cmaes", queries=1000, num_classes=2), kind="cpu")
    assert estimate.measured and estimate.tuning_seconds == pytest.approx(20.0)
    assert estimate.seconds == pytest.approx(4.0 + 20.0 + 2.0)
    assert estimate.basis.startswith("Measured by 1 cpu worker when it started")


def test_before_any_job_finished_the_finishing_is_the_workers_own_measurement(settings):
    """A worker times a job's finishing when it starts: the first estimates no longer add a guessed 2 s."""
    settings.WORKER_KIND = "cpu"
    WorkerStatus.objects.create(hostname="box", kind="cpu", last_seen=timezone.now())
    worker_status_record_timings(hostname="box", backbone="demo", load_s=4.0, image_s=0.05, overhead_s=0.3,
                                 query_s={"cmaes": {"a": 0.01, "b": 0.005, "run": 1.0}})
    estimate = job_estimate(backbone="demo", workload=Workload(method="cmaes", queries=1000, num_classes=4))
    assert estimate.finishing_seconds == pytest.approx(0.3)
    assert estimate.seconds == pytest.approx(4.0 + 1.0 + 1000 * 0.03 + 0.3)


def test_a_finished_jobs_finishing_is_its_wall_time_less_tuning_and_start_up():
    """From the claim to the stored result: the billed worker-seconds (from after the claim to the store) left
    out about 0.15 s a job, most of a Tip-Adapter job's 0.2-0.3 s."""
    from types import SimpleNamespace

    from webapp.worker.timings import record_job_timings

    WorkerStatus.objects.create(hostname="box", kind="cpu", last_seen=timezone.now())
    job = SimpleNamespace(worker="box")
    config = SimpleNamespace(adapt="prompt", param_budget=0.0, method="tip_adapter", budget=2000, backbone="demo",
                             ctx_init="a photo of a")
    data = SimpleNamespace(class_names=["a", "b", "c"], train=[])
    result = SimpleNamespace(queries_used=1, history=[], elapsed_s=0.05)
    startup = SimpleNamespace(seconds={"loading": 0.0, "encoding": 0.02, "zeroshot": 0.03}, encoded=0)
    record_job_timings(job=job, config=config, data=data, result=result, startup=startup, resumed=False, wall_s=0.3)
    assert WorkerStatus.objects.get().timings["demo"]["overhead_s"] == pytest.approx(0.3 - 0.05 - 0.05)


def test_a_workers_start_up_measurement_and_each_finished_job_move_its_figures():
    worker_status_record_timings(hostname="box", backbone="demo", load_s=4.0, image_s=0.05,
                                 query_s={"sharpzo": {"a": 0.02, "b": 0.01, "run": 1.0}})
    # a SharpZO job at 6 classes took 0.16 s a query, twice the 0.08 s predicted, and 2 s beyond its queries:
    # the figures move halfway
    status = worker_status_refine_timings(hostname="box", backbone="demo", key="sharpzo", query_s=0.16, run_s=2.0,
                                          num_classes=6, overhead_s=3.0)
    figures = status.timings["demo"]
    assert figures["query_s"]["sharpzo"] == {"a": pytest.approx(0.03), "b": pytest.approx(0.015), "run": 1.5}
    assert figures["overhead_s"] == 3.0 and figures["load_s"] == 4.0 and figures["jobs"] == 1
    # a method the start-up did not measure is learnt from its first job; one that spends no query by its run
    status = worker_status_refine_timings(hostname="box", backbone="demo", key="zosgd", query_s=0.12, run_s=1.0,
                                          num_classes=6)
    assert status.timings["demo"]["query_s"]["zosgd"] == {"a": 0.0, "b": pytest.approx(0.02), "run": 1.0}
    status = worker_status_refine_timings(hostname="box", backbone="demo", key="linear_probe", query_s=None,
                                          run_s=4.0, num_classes=6)
    assert status.timings["demo"]["query_s"]["linear_probe"] == {"a": 0.0, "b": 0.0, "run": 4.0}
    probe = job_time(Figures.from_record(status.timings["demo"]),
                     Workload(method="linear_probe", queries=1, num_classes=6, load_backbone=False))
    assert probe.tuning_s == pytest.approx(4.0)


def test_longer_class_prompts_make_each_query_dearer_by_their_length():
    """A query runs the class prompts on sequences cut to the longest one: NEU-DET's folder names ran a fifth to
    a quarter dearer than the worker's synthetic "class 3" (bench/results/estimates_cpu.md)."""
    figures = Figures.from_record({**MEASURED, "prompt_tokens": 9})
    short = Workload(method="sharpzo", queries=1000, num_classes=6, load_backbone=False, prompt_tokens=9)
    long = dataclasses.replace(short, prompt_tokens=12)
    assert job_time(figures, short).tuning_s == pytest.approx(1000 * (0.02 + 0.01 * 6))
    assert job_time(figures, long).tuning_s == pytest.approx(1000 * (0.02 + 0.01 * 6 * 12 / 9))
    # figures recorded before the length was (and a workload without class names) stay as they were
    assert job_time(Figures.from_record(MEASURED), long).tuning_s == job_time(figures, short).tuning_s
    workload = workload_of(method="sharpzo", queries=0, num_classes=2, class_names=["good", "rolled-in_scale"])
    assert workload.prompt_tokens == 11  # <start> a photo of a rolled - in scale . <end>


def test_a_job_with_long_prompts_that_ran_as_predicted_leaves_the_figures_where_they_were():
    worker_status_record_timings(hostname="box", backbone="demo", query_s={"sharpzo": {"a": 0.02, "b": 0.01}},
                                 prompt_tokens=9)
    predicted = 0.02 + 0.01 * 6 * 12 / 9
    status = worker_status_refine_timings(hostname="box", backbone="demo", key="sharpzo", query_s=predicted,
                                          run_s=0.0, num_classes=6, prompt_tokens=12)
    line = status.timings["demo"]["query_s"]["sharpzo"]
    assert (line["a"], line["b"]) == (pytest.approx(0.02), pytest.approx(0.01))

def test_endpoint_updates_with_budget_and_counts_the_datasets_classes_and_images(alice, settings):
    settings.WORKER_KIND = "cpu"
    version = make_ready_version("Press line", classes=("a", "b", "c", "d"), per_class=3)
    measured_worker()
    client = csrf_client(alice)
    ask = {"backbone": "demo", "dataset_version": version.pk, "method": "cmaes"}
    small = client.get("/jobs/estimate.json", {**ask, "budget": 100}).json()
    large = client.get("/jobs/estimate.json", {**ask, "budget": 1000}).json()
    start = 4.0 + 12 * 0.05
    assert small["num_classes"] == 4 and small["num_images"] == 12 and small["measured"]
    assert small["seconds"] == pytest.approx(start + 100 * 0.03 + 2.0)
    assert large["seconds"] == pytest.approx(start + 1000 * 0.03 + 2.0)
    assert large["text"] == "About 37 s of worker time, about 0.01 EUR, for 1,000 queries."
    assert "12 images to encode at 0.05 s each" in large["basis"]


def test_methods_that_read_cached_features_only_are_estimated_at_one_query(alice, settings):
    settings.WORKER_KIND = "cpu"
    measured_worker()
    client = csrf_client(alice)
    probe = client.get("/jobs/estimate.json", {"budget": 2000, "backbone": "demo", "method": "linear_probe"}).json()
    tuned = client.get("/jobs/estimate.json", {"budget": 2000, "backbone": "demo", "method": "sharpzo"}).json()
    assert probe["tuning_seconds"] < 0.1 and tuned["tuning_seconds"] == pytest.approx(2000 * 0.04)


def test_endpoint_refuses_a_bad_budget_in_words(alice):
    response = csrf_client(alice).get("/jobs/estimate.json", {"budget": "lots", "backbone": "demo"})
    assert response.status_code == 400 and "whole number" in response.json()["error"]


def test_endpoint_does_not_reveal_another_workspaces_dataset(alice, make_user):
    version = make_ready_version("Paint shop", per_class=3)
    response = csrf_client(alice).get("/jobs/estimate.json",
                                      {"budget": 10, "backbone": "demo", "dataset_version": version.pk})
    assert response.status_code == 404


def test_a_sparse_adapter_that_changes_image_weights_costs_its_training_images_per_query(alice, settings):
    settings.WORKER_KIND = "cpu"
    version = make_ready_version("Press line", classes=("a", "b"), per_class=9)
    measured_worker()
    client = csrf_client(alice)
    ask = {"budget": 200, "backbone": "demo", "method": "cmaes", "dataset_version": version.pk, "shots": 4}
    prompt = client.get("/jobs/estimate.json", ask).json()
    head_only = client.get("/jobs/estimate.json", {**ask, "adapt": "sparse", "param_budget": "0"}).json()
    delta = client.get("/jobs/estimate.json", {**ask, "adapt": "sparse", "param_budget": "0.005"}).json()
    assert prompt["tuning_seconds"] == head_only["tuning_seconds"] == pytest.approx(200 * 0.02)
    # 8 training images through the image tower each query, at the measured 0.05 s an image
    assert delta["tuning_seconds"] == pytest.approx(200 * (0.02 + 8 * 0.05))
    # a method that cannot tune sparse adapters is estimated as what it is
    probe = client.get("/jobs/estimate.json", {**ask, "adapt": "sparse", "method": "linear_probe"}).json()
    assert probe["tuning_seconds"] == pytest.approx(0.0, abs=0.1)


def test_a_time_budget_becomes_the_queries_that_fit_in_it_on_the_form_and_the_endpoint(alice, settings):
    """A budget given in minutes of worker time, converted by the time model with the measured figures."""
    from tests.webapp.factories import FAST_TUNING, csrf_post
    from tests.webapp.tiny_backbone import TINY_BACKBONE
    from webapp.jobs.models import Job

    settings.WORKER_KIND = "cpu"
    version = make_ready_version("Press line", classes=("a", "b", "c"), per_class=4)
    measured_worker(backbone=TINY_BACKBONE, image_s=0.5)
    # 2 minutes: 4 s loading, 12 images x 0.5 s, 2 s finishing, then 0.04 s a SharpZO query at 3 classes
    fits = int((120 - 4 - 6 - 2) / 0.05)
    client = csrf_client(alice)
    ask = {"backbone": TINY_BACKBONE, "dataset_version": version.pk, "method": "sharpzo", "minutes": 2}
    answer = client.get("/jobs/estimate.json", ask).json()
    assert answer["budget"] == fits and answer["seconds"] == pytest.approx(120, abs=1)
    assert answer["text"].endswith(f"for {fits:,} queries.")
    assert "whole minutes" in client.get("/jobs/estimate.json", {**ask, "minutes": 0}).json()["error"]

    form = {"dataset_version": version.pk, "backbone": TINY_BACKBONE, "method": "sharpzo", "adapt": "prompt",
            "shots": 2, "seed": 0, "budget": 300, "budget_minutes": 2, "name": "", "model_line_name": "", **FAST_TUNING}
    assert csrf_post(client, "/jobs/new/", form).status_code == 302
    assert Job.objects.get().budget == fits  # the minutes win over the budget field

    WorkerStatus.objects.filter(hostname="box").update(timings={TINY_BACKBONE: {**MEASURED, "image_s": 30.0}})
    refused = csrf_post(client, "/jobs/new/", {**form, "budget_minutes": 5})  # 6 min of images
    assert refused.status_code == 200 and "5 minutes are not enough" in refused.content.decode()
