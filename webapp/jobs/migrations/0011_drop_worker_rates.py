"""The per-backbone rates a finished job wrote (class prompts a second, sparse units a second, seconds an image)
are gone: estimates read WorkerStatus.timings (webapp/jobs/time_model.py), which workers measure when they start
and finished jobs refine. After adapters 0005, whose data migration renames "demo" in these columns."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("jobs", "0010_worker_timings_job_startup"), ("adapters", "0005_demo_v1_backbone")]

    operations = [
        migrations.RemoveField(model_name="workerstatus", name=name)
        for name in ("class_prompts_per_second", "sparse_units_per_second", "seconds_per_image")
    ]
