"""A job may ask for a GPU: its message goes to the GPU queue, which only GPU workers consume, so a
live CPU worker leaves it alone and the page says that no GPU worker is running; once a GPU worker
starts, it runs the job. A CPU worker told to consume the GPU queue refuses to start, in words.

We have no GPU: the GPU worker declares itself one with WORKER_KIND=gpu (the device boundary: its
tuner's device setting, 'auto', still finds no CUDA and runs on the CPU). The GPU queue is one of this
test's own, so the shared test worker takes no part."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, _database_url, wait_for
from tests.webapp.factories import csrf_client, csrf_post, make_ready_version, tiny_config
from webapp.core.broker import tuning_jobs_with_a_message
from webapp.jobs.forms import NO_GPU_WORKER_HELP
from webapp.jobs.models import Job, WorkerStatus
from webapp.jobs.selectors import NO_GPU_WORKER_TEXT

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

GPU_QUEUE = "tuning-gpu-routing-test"
CPU_QUEUE = "tuning-cpu-routing-test"


def test_a_cpu_worker_refuses_the_gpu_queue_in_words(settings):
    from django.db import connection

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "WORKER_KIND": "cpu",
           "TUNING_GPU_QUEUE": GPU_QUEUE, "DATABASE_URL": _database_url(connection.settings_dict)}
    started = subprocess.run([sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", f"tuning,{GPU_QUEUE}",
                              "-c", "1", "--without-gossip", "--without-mingle"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=180)
    assert started.returncode != 0
    assert f"consumes the GPU queue '{GPU_QUEUE}' but is not a GPU worker" in started.stderr + started.stdout


def test_a_job_that_asks_for_a_gpu_runs_only_on_a_gpu_worker(alice, start_worker, settings):
    settings.TUNING_GPU_QUEUE = GPU_QUEUE
    settings.CELERY_TASK_ROUTES = {"webapp.jobs.tasks.run_tuning_job": {"queue": CPU_QUEUE}}
    queues = {"TUNING_GPU_QUEUE": GPU_QUEUE}
    cpu = start_worker(queues=CPU_QUEUE, extra_env={**queues, "WORKER_KIND": "cpu"})
    wait_for(lambda: WorkerStatus.objects.filter(hostname=cpu.name, queues=f",{CPU_QUEUE},").exists(), timeout=30,
             message="the CPU worker's check-in")
    client = csrf_client(alice)
    assert NO_GPU_WORKER_HELP in client.get("/jobs/new/").content.decode()

    version = make_ready_version("Press line", user=alice, per_class=4)
    form = {"dataset_version": version.pk, "name": "", "model_line_name": "", "method": "sharpzo", "gpu": "on",
            **tiny_config(budget=120)}
    assert csrf_post(client, "/jobs/new/", form).status_code == 302
    job = Job.objects.get()
    assert job.needs_gpu
    # Its message waits in the GPU queue, where the idle CPU worker does not look.
    wait_for(lambda: job.pk in (tuning_jobs_with_a_message(GPU_QUEUE) or set()), timeout=30,
             message="the job's message in the GPU queue")
    assert job.pk not in (tuning_jobs_with_a_message(CPU_QUEUE) or set())
    assert NO_GPU_WORKER_TEXT in client.get(f"/jobs/{job.pk}/").content.decode()

    gpu = start_worker(queues=f"{CPU_QUEUE},{GPU_QUEUE}", extra_env={**queues, "WORKER_KIND": "gpu"})
    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=180, message="the GPU worker to run the job")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED and job.worker == gpu.name, job.error + job.log
    assert NO_GPU_WORKER_HELP not in client.get("/jobs/new/").content.decode()

    # The Status page: each worker with its kind, queues, the backbone it holds and its last heartbeat
    # (and, for staff, its name).
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    status = client.get("/status/").content.decode()
    rows = status[status.index('id="workers"'):]
    gpu_row = rows[rows.index(gpu.name):].split("</tr>")[0]
    cpu_row = rows[rows.index(cpu.name):].split("</tr>")[0]
    assert "GPU" in gpu_row and GPU_QUEUE in gpu_row and "tiny-test" in gpu_row and " ago" in gpu_row
    assert "CPU" in cpu_row and GPU_QUEUE not in cpu_row and "none yet" in cpu_row
