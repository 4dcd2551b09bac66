"""Uploaded image sets. Every upload becomes an immutable, hashed dataset version."""

from django.conf import settings
from django.db import models

from webapp.accounts.models import Workspace


class Dataset(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=120)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="dataset_name_per_workspace")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class DatasetVersion(models.Model):
    class Status(models.TextChoices):
        INGESTING = "ingesting", "Checking and importing"
        READY = "ready", "Ready"
        FAILED = "failed", "Rejected"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INGESTING)
    upload = models.FileField(upload_to="uploads/%Y/%m/", max_length=300)
    # Storage prefix under which the normalised images live: <root>/<class>/<sha256>.jpg or .png
    root = models.CharField(max_length=300, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    manifest = models.JSONField(default=dict, blank=True)  # {"files": [{"path", "label", "sha256"}...]}
    class_counts = models.JSONField(default=dict, blank=True)  # {"scratches": 41, ...}
    report = models.JSONField(default=dict, blank=True)  # {"errors": [...], "warnings": [...], "skipped": [...]}
    progress = models.FloatField(default=0.0)  # 0..1 while ingesting
    error = models.TextField(blank=True)  # plain words for the engineer when rejected
    # Recovery of the ingestion, as for jobs: `heartbeat_at` is empty while the version waits for a
    # worker and beats while one imports it; `attempts` counts the claims and fences every write.
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)  # when its task was last handed to the broker
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="dataset_version_number")]
        ordering = ["-created_at"]

    @property
    def workspace(self) -> Workspace:
        return self.dataset.workspace

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"


class MislabelledImage(models.Model):
    """An image of a dataset version an engineer marked as mislabelled (from the report's mistakes
    gallery). Kept with the version; the dataset's next versions leave the image out while it is still
    in the same class (moved to its right folder, it is kept)."""

    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="mislabelled")
    sha256 = models.CharField(max_length=64)
    label = models.CharField(max_length=200)  # the class it was filed under
    original = models.CharField(max_length=500, blank=True)  # its name in the uploaded zip
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    marked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset_version", "sha256"], name="mislabelled_once")]
