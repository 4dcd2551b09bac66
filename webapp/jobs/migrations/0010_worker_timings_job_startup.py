"""WorkerStatus.timings: what a worker measured of itself at start and refined with every finished job
(webapp/jobs/time_model.py). Job.startup: the start-up step a running job is in, for its page."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0009_worker_statuses_plural")]

    operations = [
        migrations.AddField(model_name="workerstatus", name="timings", field=models.JSONField(blank=True, default=dict)),
        migrations.AddField(model_name="job", name="startup", field=models.JSONField(blank=True, default=dict)),
    ]
