"""The multi-machine deployment, on one host: a web process (gunicorn), a default-queue worker (with the
site's scheduler) and two tuning workers, each a process with its own working directory, media,
worker cache and temp folders, sharing nothing but PostgreSQL, a Redis broker and an S3 server (moto,
a real process speaking the S3 HTTP protocol).

Through it, as a site would: upload and ingest a dataset (written to S3), launch a job on the demo
backbone, SIGKILL the tuning worker running it, see it resume on the other one from its checkpoint in
S3 with every metric point once, download the adapter archive and classify images with `python -m
tuning predict`, upload that adapter and have it evaluated. The test prints its timings (see
bench/results/multi_machine.md).

The deployment gets its own redis-server: the suite's shared worker consumes the same queue names on
the test broker and, with local storage, would take this deployment's jobs."""

import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

import pytest
import requests
from django.db import connection

from tests.conftest import ROOT, _database_url, wait_for
from tests.webapp.dataset_builders import class_images, make_zip
from tests.webapp.factories import FAST_TUNING
from tests.webapp.servers import Machine, RedisServer, celery_worker_command, free_port, wait_until_serving, web_command
from webapp.accounts.services import api_token_create
from webapp.adapters.models import AdapterVersion
from webapp.jobs.models import Job, MetricPoint

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server program"),
]

BUCKET = "factory-site"
PASSWORD = "pw-for-tests-1"
CLASSES = {"red": 8, "green": 8, "blue": 8}
JOB = {"backbone": "demo", "method": "sharpzo", "budget": 300, "shots": 2, "seed": 0, "config": FAST_TUNING}
TUNING_WORKERS = ("tuning-1@machine-b", "tuning-2@machine-c")


@pytest.fixture
def deployment(tmp_path, make_user, s3_server):
    if connection.vendor != "postgresql":
        pytest.skip("the several-machines deployment shares a PostgreSQL database (bin/test runs it in its "
                    "PostgreSQL pass); SQLite is one file on one machine")
    s3 = s3_server
    broker = RedisServer(tmp_path)
    broker.start()
    shared = {"DJANGO_SETTINGS_MODULE": "tests.webapp.deployment_settings", "REDIS_URL": broker.url,
              "CELERY_BROKER_URL": broker.url, "DATABASE_URL": _database_url(connection.settings_dict),
              "SECRET_KEY": "several-machines-test-key", "HF_HUB_OFFLINE": "1", "JOB_REAPER_INTERVAL_SECONDS": "2",
              **s3.new_bucket(BUCKET)}
    port = free_port()
    machines = {"web": Machine("web", tmp_path, web_command(port), shared),
                "default": Machine("default", tmp_path, celery_worker_command("default@machine-a", "default",
                                                                              beat=True), shared)}
    machines.update({name: Machine(name.split("@")[1], tmp_path, celery_worker_command(name, "tuning"), shared)
                     for name in TUNING_WORKERS})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/login/", machines["web"])
        alice = make_user("alice", workspace="Press line", password=PASSWORD)
        yield {"url": url, "s3": s3, "machines": machines, "user": alice,
               "token": api_token_create(user=alice, name="line PC")[1]}
    finally:
        for machine in machines.values():
            machine.stop()
        broker.stop()


def logged_in(url: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}/login/").raise_for_status()
    response = session.post(f"{url}/login/", data={"username": username, "password": PASSWORD,
                                                   "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    assert "/login/" not in response.url, "the login was refused"
    return session


def post_form(session: requests.Session, url: str, data: dict, files: dict) -> requests.Response:
    session.get(url.rsplit("/", 2)[0] + "/")  # a page sets the CSRF cookie, as in a browser
    return session.post(url, data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}, files=files,
                        allow_redirects=False)


def job_row(job_id: int) -> Job:
    return Job.objects.get(pk=job_id)


def point_keys(job_id: int) -> list[tuple]:
    return list(MetricPoint.objects.filter(job_id=job_id).order_by("seq").values_list("stage", "step", "queries"))


def launch(api, url: str, version_id: int, name: str) -> int:
    response = api.post(f"{url}/api/v1/jobs/", json={**JOB, "dataset_version": version_id, "name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def wait_finished(job_id: int, machines: dict, timeout: float = 600) -> Job:
    def finished():
        job = job_row(job_id)
        return job if job.is_finished else None

    try:
        return wait_for(finished, timeout=timeout, interval=0.5, message=f"job {job_id} to finish")
    except AssertionError:
        logs = "\n".join(f"--- {name}\n{m.log()}" for name, m in machines.items())
        raise AssertionError(f"job {job_id} did not finish: {job_row(job_id).log}\n{logs}") from None


def test_a_site_on_several_machines_survives_a_dead_tuning_worker(deployment, tmp_path):
    url, s3, machines = deployment["url"], deployment["s3"], deployment["machines"]
    browser = logged_in(url, "alice")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {deployment['token']}"
    workspace_id = deployment["user"].memberships.get().workspace_id

    # 1. Upload: the web machine stores the zip in S3, the default worker ingests it there.
    upload = make_zip(class_images(CLASSES))
    response = post_form(browser, f"{url}/datasets/upload/", {"workspace": workspace_id, "name": "colours"},
                         {"file": ("colours.zip", upload, "application/zip")})
    assert response.status_code == 302, response.text[-2000:]
    version = wait_for(lambda: next((v for d in api.get(f"{url}/api/v1/datasets/").json()["results"]
                                     for v in d["versions"] if v["status"] in ("ready", "failed")), None),
                       timeout=180, interval=0.5, message="the dataset to be ingested")
    assert version["status"] == "ready", version
    assert len(s3.keys(BUCKET, f"datasets/{version['id']}/images/")) == sum(CLASSES.values())
    assert len(s3.keys(BUCKET, "uploads/")) == 1

    # 2. A job on the demo backbone; SIGKILL the tuning worker running it once it has a checkpoint in S3.
    job_id = launch(api, url, version["id"], "resumed")

    def running_with_checkpoint():
        job = job_row(job_id)
        return (job.status == Job.Status.RUNNING and job.checkpoint and job.queries_used >= JOB["budget"] // 3
                and job.checkpoint in s3.keys(BUCKET, f"jobs/{job_id}/")) and job
    first = wait_for(running_with_checkpoint, timeout=300, interval=0.2,
                     message="a running job with a checkpoint in S3")
    machines[first.worker].kill()
    killed_at = time.monotonic()
    points_at_kill = MetricPoint.objects.filter(job_id=job_id).count()
    survivor = next(name for name in TUNING_WORKERS if name != first.worker)

    resumed = wait_for(lambda: (job := job_row(job_id)).status == Job.Status.RUNNING and job.attempts == 2 and job,
                       timeout=240, interval=0.2, message="the job to be resumed by the other tuning worker")
    claim_s = time.monotonic() - killed_at
    wait_for(lambda: MetricPoint.objects.filter(job_id=job_id).count() > points_at_kill, timeout=240, interval=0.2,
             message="a new metric point after the resume")
    resume_s = time.monotonic() - killed_at
    assert resumed.worker == survivor
    job = wait_finished(job_id, machines)
    assert job.status == Job.Status.COMPLETED, job.error + job.log
    assert "resumed from a checkpoint" in job.log and job.attempts == 2
    # A finished job keeps no resume state: its row names none as it finishes, and the worker deletes the files
    # just after that (its housekeeping), so a look between the two may still see them for a moment.
    assert not job.checkpoint
    wait_for(lambda: not s3.keys(BUCKET, f"jobs/{job_id}/checkpoint"), timeout=60,
             message="the finished job's checkpoint files to be deleted")

    # 3. The same job uninterrupted is the reference: every point of it, once, and no other.
    reference = wait_finished(launch(api, url, version["id"], "reference"), machines)
    assert reference.status == Job.Status.COMPLETED, reference.error + reference.log
    got, expected = point_keys(job_id), point_keys(reference.pk)
    lost, duplicated = len(set(expected) - set(got)), len(got) - len(set(got))
    assert (lost, duplicated) == (0, 0) and got == expected
    seqs = list(MetricPoint.objects.filter(job_id=job_id).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))

    # 4. Download the adapter archive (streamed from S3 through the web machine) and run `predict` on it.
    adapter = AdapterVersion.objects.get(job_id=job_id)
    started = time.perf_counter()
    with api.get(f"{url}/api/v1/adapters/{adapter.pk}/archive/", stream=True) as download:
        assert download.status_code == 200
        archive = b"".join(download.iter_content(64 * 1024))
    download_s = time.perf_counter() - started
    line_pc = tmp_path / "line-pc"
    zipfile.ZipFile(io.BytesIO(archive)).extractall(line_pc)
    (folder,) = [path for path in line_pc.iterdir() if path.is_dir()]
    photos = line_pc / "photos"
    photos.mkdir()
    for name, data in list(class_images({"red": 1, "blue": 1}, seed=7).items()):
        (photos / name.replace("/", "-")).write_bytes(data)
    predicted = subprocess.run([sys.executable, "-m", "tuning", "predict", "--adapter", str(folder),
                                "--images", str(photos)], cwd=line_pc, capture_output=True, text=True, timeout=300,
                               env={**line_pc_env(), "HF_HUB_OFFLINE": "1"})
    assert predicted.returncode == 0, predicted.stderr
    lines = predicted.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.split("\t")[1] in CLASSES for line in lines)

    # 5. The downloaded archive uploaded as another site's adapter: the default worker evaluates it from S3.
    response = post_form(browser, f"{url}/adapters/upload/",
                         {"workspace": workspace_id, "model_line": "site B colours", "dataset_version": version["id"]},
                         {"archive": ("adapter.zip", archive, "application/zip")})
    assert response.status_code == 302, response.text[-2000:]
    uploaded = wait_for(lambda: AdapterVersion.objects.filter(source="upload",
                                                              evaluation_status__in=["done", "failed"]).first(),
                        timeout=300, interval=0.5, message="the uploaded adapter's evaluation")
    assert uploaded.evaluation_status == "done", uploaded.evaluation_error
    assert uploaded.metrics["images"] == sum(CLASSES.values())
    assert s3.keys(BUCKET, f"adapters/{uploaded.model_line_id}/v{uploaded.number}/")

    # 6. Nothing landed on any machine's own media folder: every file went to S3.
    for machine in machines.values():
        assert machine.files_in("MEDIA_ROOT") == [], machine.name

    print(f"\nseveral machines: kill-to-resume {claim_s:.1f} s to the claim on {survivor}, {resume_s:.1f} s to "
          f"its first new metric point; points lost {lost}, duplicated {duplicated} (of {len(got)}); archive "
          f"{len(archive)} bytes from S3 in {download_s * 1000:.0f} ms ({len(archive) / download_s / 1e6:.2f} MB/s)")


def line_pc_env() -> dict:
    """A line PC's shell: no Django settings, database, broker or storage; the tuning package on the path."""
    return {key: value for key, value in os.environ.items() if not re.match(r"(DJANGO|DATABASE|REDIS|S3)_", key)} | {
        "PYTHONPATH": str(ROOT)}
