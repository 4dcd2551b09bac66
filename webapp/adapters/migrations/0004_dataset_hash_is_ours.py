"""`dataset_hash` means one thing: the content hash of one of our dataset versions. Uploaded adapters
stored the tuner's own digest of their data there; it stays in their card."""
from django.db import migrations


def clear_uploaded_hashes(apps, schema_editor):
    apps.get_model("adapters", "AdapterVersion").objects.filter(source="upload").update(dataset_hash="")


class Migration(migrations.Migration):
    dependencies = [("adapters", "0003_adapter_trial")]
    operations = [migrations.RunPython(clear_uploaded_hashes, migrations.RunPython.noop)]
