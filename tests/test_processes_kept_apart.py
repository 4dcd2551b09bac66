"""bin/test runs two test processes (pytest -n 2). Each must own its files and broker database: a test that
makes one process's media read-only (the storage outage) once failed an upload in the other, because both
had inherited the first process's MEDIA_ROOT."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

SHOW = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({"media": str(settings.MEDIA_ROOT), "var": str(settings.VAR_DIR), "broker": settings.REDIS_URL}))
"""


def _settings_of_test_process(name: str, inherited: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MEDIA_ROOT", "WEBAPP_VAR_DIR", "REDIS_URL", "TESTS_PARTITIONED", "PYTEST_XDIST_WORKER")}
    run = subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**env, **inherited, "PYTEST_XDIST_WORKER": name,
                              "DJANGO_SETTINGS_MODULE": "tests.settings"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_each_test_process_has_its_own_media_var_folder_and_broker(tmp_path):
    # What pytest's first process leaves in the environment after it has imported tests/settings.py.
    inherited = {"WEBAPP_VAR_DIR": str(tmp_path), "MEDIA_ROOT": str(tmp_path / "media"),
                 "REDIS_URL": "redis://127.0.0.1:6379/15"}
    first, second = (_settings_of_test_process(name, inherited) for name in ("gw0", "gw1"))
    assert first["media"] != second["media"] and first["var"] != second["var"]
    assert first["broker"] != second["broker"]
    for process, seen in (("gw0", first), ("gw1", second)):
        assert process in seen["media"] and process in seen["var"], seen
