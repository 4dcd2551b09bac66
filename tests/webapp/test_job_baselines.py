"""The baselines a user may pick instead of prompt tuning run as ordinary jobs through the real broker
and worker: a linear probe's adapter holds its head, and the worker's test evaluation uses it."""

import json

import pytest

from tests.conftest import wait_for
from tests.webapp.factories import make_ready_version, tiny_config
from webapp.adapters import files
from webapp.adapters.models import AdapterVersion
from webapp.jobs.models import Job
from webapp.jobs.services import job_create, tune_config_from

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_linear_probe_job_publishes_an_adapter_with_its_head(celery_worker, make_user):
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", user=alice, per_class=6)
    config = tune_config_from(tiny_config(method="linear_probe", budget=2000))
    job = job_create(user=alice, dataset_version=version, config=config)

    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_for(finished, timeout=600, message="the linear-probe job to finish")
    assert job.status == Job.Status.COMPLETED, job.error + job.log
    assert job.queries_used == 1  # the zero-shot evaluation: the probe reads the cached features only
    card = json.loads(files.read_verified(AdapterVersion.objects.get(job=job))["adapter.json"])
    assert card["method"] == "linear_probe"
    # The tiny set's classes are plain colours: a head separates them, the random text tower does not.
    assert card["metrics"]["better_than_zero_shot"] and card["head"] == "linear" and card["format_version"] == 2
    assert job.tuned_accuracy > job.zero_shot_accuracy  # the worker's test evaluation went through the head
