"""The data migration that renames "demo" to "demo-v1" where a row meant the first demo
backbone (adapter versions by their sha256, finished jobs, measured speeds), forwards and back."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.webapp.factories import make_ready_version

pytestmark = pytest.mark.django_db(transaction=True)  # migrating back and forth needs real transactions

BEFORE = [("adapters", "0004_dataset_hash_is_ours"), ("jobs", "0005_rename_queries_per_second")]
AFTER = [("adapters", "0005_demo_v1_backbone")]
V1_SHA = importlib.import_module("webapp.adapters.migrations.0005_demo_v1_backbone").V1_SHA256
V2_SHA = "2" * 64


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def latest_schema_afterwards():
    """The tests move the schema back to the migrations before the rename; every later test needs every app's
    latest schema, whatever migrations came after."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def old_rows(make_user):
    """Rows as the code before v2 wrote them, in the schema of that time."""
    alice = make_user("alice", workspace="Press line")
    dataset = make_ready_version("Press line", per_class=2, user=alice)
    apps = _migrate(BEFORE)
    Job = apps.get_model("jobs", "Job")
    AdapterVersion = apps.get_model("adapters", "AdapterVersion")
    ModelLine = apps.get_model("adapters", "ModelLine")
    WorkerStatus = apps.get_model("jobs", "WorkerStatus")

    def job(status, backbone="demo"):
        return Job.objects.create(workspace_id=dataset.dataset.workspace_id, dataset_version_id=dataset.pk,
                                  backbone=backbone, method="sharpzo", shots=2, budget=100, status=status,
                                  config={"backbone": backbone, "method": "sharpzo", "budget": 100})

    rows = {"done": job("completed"), "failed": job("failed"), "queued": job("queued"), "running": job("running"),
            "other": job("completed", backbone="ViT-B-32:openai")}
    line = ModelLine.objects.create(workspace_id=dataset.dataset.workspace_id, name="scratches")
    for number, (name, backbone, sha) in enumerate([("v1", "demo", V1_SHA), ("v2", "demo", V2_SHA),
                                                     ("openai", "ViT-B-32:openai", V1_SHA)], start=1):
        rows[name] = AdapterVersion.objects.create(model_line=line, number=number, backbone=backbone,
                                                   backbone_sha256=sha, method="sharpzo", class_names=["a", "b"],
                                                   size_bytes=1, source="job" if name == "v1" else "upload")
    WorkerStatus.objects.create(hostname="box", last_seen=timezone.now(), class_prompts_per_second={"demo": 40.0},
                                seconds_per_image={"demo": 0.5, "ViT-B-32:openai": 2.0})
    return rows


def test_rows_that_meant_v1_are_renamed_and_the_rename_goes_back(old_rows):
    apps = _migrate(AFTER)
    Job, AdapterVersion = apps.get_model("jobs", "Job"), apps.get_model("adapters", "AdapterVersion")
    versions = {name: AdapterVersion.objects.get(pk=old_rows[name].pk).backbone for name in ("v1", "v2", "openai")}
    assert versions == {"v1": "demo-v1", "v2": "demo", "openai": "ViT-B-32:openai"}  # by sha256, demo only
    jobs = {name: Job.objects.get(pk=old_rows[name].pk) for name in ("done", "failed", "queued", "running", "other")}
    assert {name: (j.backbone, j.config["backbone"]) for name, j in jobs.items()} == {
        "done": ("demo-v1", "demo-v1"), "failed": ("demo-v1", "demo-v1"),
        "queued": ("demo", "demo"), "running": ("demo", "demo"),  # they run on today's demo (see tuning/runner.py)
        "other": ("ViT-B-32:openai", "ViT-B-32:openai")}
    worker = apps.get_model("jobs", "WorkerStatus").objects.get(hostname="box")
    assert worker.class_prompts_per_second == {"demo-v1": 40.0}  # measured on v1: v2 is measured afresh
    assert worker.seconds_per_image == {"demo-v1": 0.5, "ViT-B-32:openai": 2.0}

    apps = _migrate(BEFORE)
    AdapterVersion, Job = apps.get_model("adapters", "AdapterVersion"), apps.get_model("jobs", "Job")
    assert AdapterVersion.objects.get(pk=old_rows["v1"].pk).backbone == "demo"
    assert Job.objects.get(pk=old_rows["done"].pk).config["backbone"] == "demo"
    assert apps.get_model("jobs", "WorkerStatus").objects.get(hostname="box").class_prompts_per_second == {"demo": 40.0}
    _migrate(AFTER)


def test_the_migration_names_the_weights_demo_v1_ships():
    from tuning.demo_backbone import recorded_sha256
    from tuning.demo_backbone.versions import V1

    assert V1_SHA == recorded_sha256(V1)
