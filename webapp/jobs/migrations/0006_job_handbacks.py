"""Job.handbacks: attempts a shutting-down worker handed back, which do not count towards JOB_MAX_ATTEMPTS."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0005_rename_queries_per_second")]

    operations = [
        migrations.AddField(model_name="job", name="handbacks", field=models.PositiveIntegerField(default=0)),
    ]
