from django.db import migrations, models


class Migration(migrations.Migration):
    """Sparse-adapter jobs' points say how many image-tower parameters changed; when a job's points were
    last stored (a live time left), and the figures for estimates."""

    dependencies = [
        ("jobs", "0002_worker_queues"),
    ]

    operations = [
        migrations.AddField(model_name="metricpoint", name="params_changed",
                            field=models.PositiveBigIntegerField(null=True)),
        migrations.AddField(model_name="job", name="progress_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="workerstatus", name="sparse_units_per_second",
                            field=models.JSONField(blank=True, default=dict)),
        migrations.AddField(model_name="workerstatus", name="seconds_per_image",
                            field=models.JSONField(blank=True, default=dict)),
    ]
