"""The demo backbone was renewed: "demo" now names v2, and the first weights stay installed as
"demo-v1" (tuning/demo_backbone/versions.py). Rows written before that which meant v1 are renamed,
so the pages say which demo an adapter needs and the upload's "same id, same weights" check
(adapters/upload.py check_backbone) compares v1 adapters with v1 adapters:

- adapter versions whose backbone sha256 is v1's (jobs and uploads alike);
- finished jobs (they ran, if at all, on v1: the only demo there was), column and config alike, so
  a job page, a comparison or a re-run says the weights it meant. A queued or running job keeps
  "demo": it runs on v2, and one that must resume from a checkpoint written on v1 fails with a clear
  reason instead (tuning/runner.py refuses a checkpoint of other weights);
- the workers' measured speeds on "demo" (for estimates): they were measured on v1.

The ids and v1's sha256 are written out here, not imported: a migration must mean the same thing
whatever the code says later.
"""
from django.db import migrations

OLD_ID, V1_ID = "demo", "demo-v1"
V1_SHA256 = "6cdababc58c653404fc191b4260a0e147d7565da237359e6369898a3aad89f22"
FINISHED = ("completed", "failed", "cancelled")
RATE_FIELDS = ("class_prompts_per_second", "sparse_units_per_second", "seconds_per_image")


def _rename(apps, old: str, new: str) -> None:
    versions = apps.get_model("adapters", "AdapterVersion").objects
    versions.filter(backbone=old, backbone_sha256=V1_SHA256).update(backbone=new)
    for job in apps.get_model("jobs", "Job").objects.filter(backbone=old, status__in=FINISHED):
        job.backbone = new
        if isinstance(job.config, dict) and job.config.get("backbone") == old:
            job.config = {**job.config, "backbone": new}
        job.save(update_fields=["backbone", "config"])
    for worker in apps.get_model("jobs", "WorkerStatus").objects.all():
        changed = []
        for field in RATE_FIELDS:
            rates = getattr(worker, field)
            if isinstance(rates, dict) and old in rates:
                rates = {k: v for k, v in rates.items() if k != new}  # what was measured on `new` meant other weights
                rates[new] = rates.pop(old)
                setattr(worker, field, rates)
                changed.append(field)
        if changed:
            worker.save(update_fields=changed)


def forwards(apps, schema_editor):
    _rename(apps, OLD_ID, V1_ID)


def backwards(apps, schema_editor):
    # The code before this migration knows v1 alone, under "demo".
    _rename(apps, V1_ID, OLD_ID)


class Migration(migrations.Migration):
    dependencies = [("adapters", "0004_dataset_hash_is_ours"), ("jobs", "0005_rename_queries_per_second")]
    operations = [migrations.RunPython(forwards, backwards)]
