"""A finished job's adapter folder becomes the next immutable version of its model line."""

import hashlib
import json
import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from tests.webapp.factories import make_finished_job, make_version_for_job, write_adapter_dir
from webapp.adapters.models import AdapterEvent, AdapterVersion, ImmutableVersionError, ModelLine
from webapp.adapters.services import adapter_version_create_from_job

pytestmark = pytest.mark.django_db


def _stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def test_job_adapter_becomes_v1_with_files_hashes_and_provenance(make_user, tmp_path):
    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, model_line_name="press line 3 scratches")
    adapter_dir = write_adapter_dir(tmp_path / "out", class_names=("blue", "green", "red"))

    version = adapter_version_create_from_job(job=job, adapter_dir=adapter_dir)

    line = ModelLine.objects.get(workspace=job.workspace, name="press line 3 scratches")
    assert version.model_line == line and version.number == 1 and version.source == "job" and version.job == job
    prefix = f"adapters/{line.pk}/v1/"
    assert version.weights_file == prefix + "adapter.safetensors" and version.card_file == prefix + "adapter.json"
    weights = (adapter_dir / "adapter.safetensors").read_bytes()
    assert _stored(version.weights_file) == weights
    assert version.sha256 == hashlib.sha256(weights).hexdigest() and version.size_bytes == len(weights)
    assert json.loads(_stored(version.card_file))["class_names"] == ["blue", "green", "red"]
    assert version.dataset_hash == job.dataset_version.content_hash != ""
    assert (version.backbone, version.backbone_sha256) == ("tiny-test", "tiny-causal-0")
    assert version.method == "sharpzo" and version.config == job.config
    assert version.class_names == ["blue", "green", "red"]
    assert version.metrics["zero_shot_accuracy"] == 0.61 and version.metrics["tuned_accuracy"] == 0.88
    assert version.metrics["queries_used"] == 1980 and version.metrics["worker_seconds"] == 1440.0
    assert version.metrics["query_precision"] == "fp32"  # the number format the tuner's queries ran in
    assert version.created_by == alice
    event = AdapterEvent.objects.get(model_line=line)
    assert (event.action, event.version, event.actor) == ("created", version, alice)


def test_next_job_on_the_same_line_gets_v2_and_a_blank_line_name_uses_the_dataset_name(make_user, tmp_path):
    make_user("alice", workspace="Press line")
    first = make_finished_job("Press line", model_line_name="scratches")
    second = make_finished_job("Press line", model_line_name=" scratches ")
    unnamed = make_finished_job("Press line", model_line_name="")

    assert make_version_for_job(first, tmp_path).number == 1
    assert make_version_for_job(second, tmp_path).number == 2
    other = make_version_for_job(unnamed, tmp_path)
    assert other.model_line.name == unnamed.dataset_version.dataset.name and other.number == 1


def test_a_retried_task_gets_the_same_version_not_a_second_one(make_user, tmp_path):
    job = make_finished_job("Press line", model_line_name="scratches")
    first = make_version_for_job(job, tmp_path)
    again = make_version_for_job(job, tmp_path)
    assert again.pk == first.pk and AdapterVersion.objects.count() == 1


def test_damaged_adapter_is_refused_and_leaves_nothing_behind(tmp_path):
    from tuning import AdapterError

    job = make_finished_job("Press line", model_line_name="scratches")
    adapter_dir = write_adapter_dir(tmp_path / "bad", format_version=99)
    with pytest.raises(AdapterError, match="format version 99"):
        adapter_version_create_from_job(job=job, adapter_dir=adapter_dir)
    assert not AdapterVersion.objects.exists() and not AdapterEvent.objects.exists()


def test_versions_are_immutable(tmp_path):
    version = make_version_for_job(make_finished_job("Press line"), tmp_path)
    version.sha256 = "0" * 64
    with pytest.raises(ImmutableVersionError):
        version.save()
    with pytest.raises(ImmutableVersionError):
        version.save(update_fields=["sha256"])
    version.refresh_from_db()
    assert version.sha256 != "0" * 64


@pytest.mark.django_db(transaction=True)
def test_concurrent_jobs_on_one_line_get_distinct_numbers(tmp_path):
    jobs = [make_finished_job("Press line", model_line_name="scratches") for _ in range(4)]
    dirs = [write_adapter_dir(tmp_path / f"a{i}", seed=i) for i in range(4)]
    barrier, errors = threading.Barrier(4), []

    def create(job, directory):
        try:
            barrier.wait()
            adapter_version_create_from_job(job=job, adapter_dir=directory)
        except Exception as exc:  # reported below: a thread cannot fail the test by itself
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection, or the test database cannot be dropped

    threads = [threading.Thread(target=create, args=pair) for pair in zip(jobs, dirs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = AdapterVersion.objects.filter(model_line__name="scratches")
    assert sorted(v.number for v in versions) == [1, 2, 3, 4]
    assert len({v.sha256 for v in versions}) == 4  # each number holds its own job's file
    for v in versions:
        assert hashlib.sha256(_stored(v.weights_file)).hexdigest() == v.sha256
