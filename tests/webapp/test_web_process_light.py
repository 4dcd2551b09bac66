"""The web process never imports torch, open_clip or a backbone: the URL configuration, the launch
form, its run-time estimate and the list pages read only what the tuner publishes (tuning.backbones.catalogue,
tuning.config). Checked in a fresh interpreter, since this test process has long imported torch."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WEB_REQUESTS = r"""
import json, os, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
import webapp.urls  # noqa: F401  (the whole URL configuration, with every view module)
from django.test import Client
from django.contrib.auth import get_user_model
from webapp.accounts.models import Membership, Workspace
from tests.webapp.factories import make_ready_version
user = get_user_model().objects.create_user(username="alice", password="pw-for-tests-1")
Membership.objects.create(user=user, workspace=Workspace.objects.create(name="Press line"), role="engineer")
version = make_ready_version("Press line", user=user)
client = Client()
client.force_login(user)
pages = {url: client.get(url).status_code for url in [
    "/jobs/new/", f"/jobs/estimate.json?budget=500&backbone=demo&dataset_version={version.pk}",
    "/jobs/", "/datasets/", f"/datasets/versions/{version.pk}/", "/reports/", "/adapters/"]}
# a SharpZO launch checks its minimum budget (tuning.config.minimum_budget), which must stay light too
launch = client.post("/jobs/new/", {"dataset_version": version.pk, "backbone": "demo", "method": "sharpzo",
                                    "shots": 2, "seed": 0, "budget": 2000, "name": "", "model_line_name": ""})
pages["launch"] = 200 if launch.status_code in (200, 302) else launch.status_code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "open_clip", "torchvision", "transformers"}
               or m in {"tuning.backbones.loader", "tuning.tuner", "tuning.adapter"})
print(json.dumps({"pages": pages, "heavy": heavy}))
"""


def test_web_requests_import_neither_torch_nor_a_backbone(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": "sqlite://:memory:",
           "MEDIA_ROOT": str(tmp_path / "media")}
    run = subprocess.run([sys.executable, "-c", WEB_REQUESTS], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(status == 200 for status in seen["pages"].values()), seen["pages"]
    assert seen["heavy"] == [], f"a web request imported {seen['heavy'][:8]}"
