"""WorkerStatus.queries_per_second held class prompts per second (queries x classes / seconds): named so."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("jobs", "0004_gpu_jobs_and_loaded_backbone")]

    operations = [
        migrations.RenameField(model_name="workerstatus", old_name="queries_per_second",
                               new_name="class_prompts_per_second"),
    ]
