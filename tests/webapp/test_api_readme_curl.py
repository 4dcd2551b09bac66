"""The README's JSON API examples work as written: every curl command of the section is run with the
real `curl` against a live server, with only the host, the token and the example ids replaced."""

import json
import os
import re
import shutil
import subprocess
import zipfile

import pytest

from tests.conftest import ROOT, wait_for
from tests.webapp.factories import make_api_token, make_finished_job, make_ready_version, make_version_for_job
from webapp.jobs.models import Job
from webapp.jobs.services import job_cancel

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")]


def readme_curl_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## JSON API\n", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)  # shell line continuations
        commands += [line.strip() for line in joined.splitlines() if line.strip().startswith("curl ")]
    return commands


def test_every_curl_example_of_the_readme_runs_against_the_server(live_server, make_user, tmp_path, settings):
    settings.TUNING_WHEEL_DIR = tmp_path / "wheels"
    erin = make_user("erin", workspace="Press line")
    dataset = make_ready_version("Press line", name="scratches images", per_class=6)
    job = make_finished_job("Press line", dataset_version=dataset, status=Job.Status.QUEUED)
    version = make_version_for_job(make_finished_job("Press line", dataset_version=dataset,
                                                     model_line_name="press line 3"), tmp_path)
    line = version.model_line
    line.production_version = version
    line.save()

    ids = {r'"dataset_version": 3\b': f'"dataset_version": {dataset.pk}', r"/jobs/42/": f"/jobs/{job.pk}/",
           r"/adapters/7/": f"/adapters/{version.pk}/", r"/model-lines/5/": f"/model-lines/{line.pk}/"}
    commands = readme_curl_commands()
    assert len(commands) >= 7
    for pattern in ids:  # the README still shows each kind of call the test knows how to point at real ids
        assert any(re.search(pattern, c) for c in commands), pattern
    env = {"PATH": os.environ["PATH"], "TUNING_URL": live_server.url, "TUNING_TOKEN": make_api_token(erin)}

    for command in commands:
        for pattern, real in ids.items():
            command = re.sub(pattern, real, command)
        run = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"{command}\n{run.stderr}"
        if " -o " in command:
            output = tmp_path / command.split(" -o ", 1)[1].split()[0]
            if output.suffix == ".whl":  # the tuning package a line PC installs
                assert "tuning/__main__.py" in zipfile.ZipFile(output).namelist()
                continue
            assert zipfile.is_zipfile(output) and any(n.endswith("adapter.safetensors")
                                                      for n in zipfile.ZipFile(output).namelist())
            continue
        body = json.loads(run.stdout)
        assert not body.get("error"), f"{command}\n{body}"
        if "/api/v1/jobs/\"" in command:  # the launch (a worker of another test may take it at once): stop it
            created = Job.objects.get(pk=body["id"])
            assert created.status in ("queued", "running") and created.model_line_name == "press line 3 scratches"
            job_cancel(job=created, user=erin)
            launched = created
        if command.endswith("/cancel/\""):
            assert body["id"] == job.pk and body["status"] == "cancelled"
    # Leave no job running for a shared worker when the database is emptied after this test.
    wait_for(lambda: Job.objects.get(pk=launched.pk).is_finished, timeout=120, message="the launched job to stop")
