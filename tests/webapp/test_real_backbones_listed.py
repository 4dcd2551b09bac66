"""The job form and the API list the real CLIP backbones a live worker can run, each with its weights'
sha256 and size: the worker finds them when it starts (webapp/worker/checkin.py) and records them.

The worker consumes a queue of this test's own (declared a GPU worker's, as tests/webapp/test_job_gpu_routing.py
does), so the shared test worker takes no part and no job reaches this one."""

import hashlib

import pytest
from django.test import Client

from tests.conftest import wait_for
from tests.webapp.factories import csrf_client, make_api_token
from webapp.jobs.models import WorkerStatus

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LISTING_QUEUE = "tuning-gpu-listing-test"


def test_a_workers_real_backbones_are_offered_with_their_sha256_and_size(alice, start_worker, tmp_path):
    weights = tmp_path / "ViT-B-16.safetensors"
    weights.write_bytes(b"weights copied from the download machine" * 1000)
    local = f"ViT-B-16:openai@{weights}"
    worker = start_worker(queues=LISTING_QUEUE, extra_env={
        "TUNING_GPU_QUEUE": LISTING_QUEUE, "WORKER_KIND": "gpu", "TUNING_LOCAL_CHECKPOINTS": local})
    try:
        wait_for(lambda: any(e["id"] == local for w in WorkerStatus.objects.filter(hostname=worker.name)
                             for e in w.backbones_available), timeout=60, message="the worker's backbone list")
        sha256 = hashlib.sha256(weights.read_bytes()).hexdigest()
        body = Client().get("/api/v1/backbones/", HTTP_AUTHORIZATION=f"Bearer {make_api_token(alice)}").json()
        listed = {b["id"]: b for b in body["results"]}
        assert body["results"][0]["id"] == "demo" and body["results"][0]["default"]
        assert listed[local]["sha256"] == sha256 and listed[local]["size_bytes"] == weights.stat().st_size
        assert listed[local]["source"] == "local" and listed[local]["workers"] == [worker.name]
        page = csrf_client(alice).get("/jobs/new/").content.decode()
        assert f'value="{local}"' in page and f"local file, sha256 {sha256[:12]}..., 40 kB" in page
    finally:
        worker.stop()
