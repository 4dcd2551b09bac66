"""WorkerStatus.backbones_available: the real CLIP backbones a worker found it can run."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0006_job_handbacks")]

    operations = [
        migrations.AddField(model_name="workerstatus", name="backbones_available",
                            field=models.JSONField(blank=True, default=list)),
    ]
