"""Versioned, immutable adapter files under named model lines, with a production alias and history."""

from django.conf import settings
from django.db import models

from webapp.accounts.models import Workspace
from webapp.datasets.models import DatasetVersion


class ImmutableVersionError(Exception):
    """Raised when code tries to change what an adapter version is (its files, origin or settings)."""


class ModelLine(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="model_lines")
    name = models.CharField(max_length=120)  # e.g. "press line 3 scratches"
    production_version = models.ForeignKey(
        "AdapterVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="model_line_name_per_workspace")]

    def __str__(self) -> str:
        return self.name


class AdapterVersion(models.Model):
    model_line = models.ForeignKey(ModelLine, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="adapter_versions")
    source = models.CharField(max_length=16, default="job")  # "job" or "upload" (tuned at another site)
    # Storage names of the two adapter files (docs/ARCHITECTURE.md, the adapter file).
    weights_file = models.CharField(max_length=300)
    card_file = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)  # of adapter.safetensors
    card_sha256 = models.CharField(max_length=64, blank=True)  # of adapter.json
    size_bytes = models.PositiveIntegerField()  # of adapter.safetensors
    # The content hash of the dataset version it was tuned on here (datasets.DatasetVersion.content_hash);
    # empty for an adapter tuned elsewhere (its card keeps the tuner's own digest of that data).
    dataset_hash = models.CharField(max_length=64, blank=True)
    backbone = models.CharField(max_length=300)
    backbone_sha256 = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=32)
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    class_names = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True)  # e.g. where an uploaded adapter was tuned

    # Evaluation of an uploaded adapter on one of our dataset versions (a Celery task fills metrics).
    class Evaluation(models.TextChoices):
        NONE = "", "Not evaluated"
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Evaluating"
        DONE = "done", "Evaluated"
        FAILED = "failed", "Evaluation failed"

    evaluation_status = models.CharField(max_length=16, choices=Evaluation.choices, default="", blank=True)
    evaluation_dataset_version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="adapter_evaluations"
    )
    evaluation_error = models.TextField(blank=True)  # plain words for the engineer

    # What a version *is* never changes after creation; only the evaluation bookkeeping of an uploaded
    # version (and its metrics, which the evaluation writes) may be updated, by naming those fields.
    MUTABLE_FIELDS = frozenset({"metrics", "evaluation_status", "evaluation_dataset_version", "evaluation_error"})

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_line", "number"], name="adapter_version_number")]
        ordering = ["model_line", "-number"]

    def __str__(self) -> str:
        return f"{self.model_line.name} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            fields = kwargs.get("update_fields")
            if fields is None or not set(fields) <= self.MUTABLE_FIELDS:
                raise ImmutableVersionError(
                    f"Adapter version {self} is immutable; only {sorted(self.MUTABLE_FIELDS)} may be updated."
                )
        super().save(*args, **kwargs)


class AdapterEvent(models.Model):
    """History of a model line: who did what when (created v3, set v2 as production, ...)."""

    class Action(models.TextChoices):
        CREATED = "created", "created"
        UPLOADED = "uploaded", "uploaded"
        SET_PRODUCTION = "set_production", "set as production"
        CLEARED_PRODUCTION = "cleared_production", "removed from production"
        DOWNLOADED = "downloaded", "downloaded"
        EVALUATED = "evaluated", "evaluated"

    model_line = models.ForeignKey(ModelLine, on_delete=models.CASCADE, related_name="events")
    version = models.ForeignKey(AdapterVersion, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=32, choices=Action.choices)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]


class AdapterTrial(models.Model):
    """A few images an engineer tried on a version from its page. The upload is kept as sent; a worker
    on the default queue checks each image as the dataset upload does, classifies it with
    `tuning.predict`, keeps a thumbnail and drops the upload."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    version = models.ForeignKey(AdapterVersion, on_delete=models.CASCADE, related_name="trials")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # [{"name": file name as sent, "upload": storage name until classified, "thumbnail": storage name,
    #   "label", "confidence"} or {"name", "error": plain words}], in the order sent
    images = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)  # plain words, when the whole trial failed

    class Meta:
        ordering = ["-created_at", "-id"]
