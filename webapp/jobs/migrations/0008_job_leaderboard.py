"""Job.leaderboard: the candidates a run weighed on validation (method auto, and a single method beside the
cheap ones) and why its adapter won. Earlier jobs keep an empty one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0007_worker_backbones_available")]

    operations = [
        migrations.AddField(model_name="job", name="leaderboard", field=models.JSONField(blank=True, default=dict)),
    ]
