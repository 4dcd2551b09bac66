"""Tuning jobs, their live metrics, and the workers that run them. The row is the source of truth."""

from django.conf import settings
from django.db import models

from webapp.accounts.models import Workspace
from webapp.datasets.models import DatasetVersion
from webapp.integrations.tuning import CURVES


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="jobs")
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=120, blank=True)
    model_line_name = models.CharField(max_length=120, blank=True)  # where the adapter version goes

    # What to run: `config` is tuning.TuneConfig.to_dict(); the columns below copy its key fields
    # so that lists and reports can filter and sort on them.
    backbone = models.CharField(max_length=300)
    method = models.CharField(max_length=32)
    shots = models.PositiveIntegerField()
    seed = models.IntegerField(default=0)
    budget = models.PositiveIntegerField(help_text="Queries (forward evaluations of the loss)")
    config = models.JSONField(default=dict)
    needs_gpu = models.BooleanField(default=False, help_text="Only a GPU worker may run it (webapp/jobs/queues.py)")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    # Attempts that ended with a graceful hand-back (a worker shutting down): free, so only the others
    # count towards JOB_MAX_ATTEMPTS. `attempts` itself stays the fencing token of every claim.
    handbacks = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)  # when the latest metric points were stored
    finished_at = models.DateTimeField(null=True, blank=True)

    # Progress and outcome
    queries_used = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=16, blank=True)
    stage_switch_queries = models.PositiveIntegerField(null=True, blank=True)
    # Before the first metric point: the start-up step the worker is in ({"step", "done", "total"}), for the page
    startup = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)  # plain words for the engineer
    log = models.TextField(blank=True)  # technical detail kept for support
    checkpoint = models.CharField(max_length=300, blank=True)  # storage name of the resume state
    zero_shot_accuracy = models.FloatField(null=True, blank=True)
    tuned_accuracy = models.FloatField(null=True, blank=True)
    best_val_accuracy = models.FloatField(null=True, blank=True)
    evaluation = models.JSONField(default=dict, blank=True)  # per-class accuracy, confusion matrices
    # The candidates weighed on validation and why the adapter won (tuning's Leaderboard.to_dict(); empty
    # for jobs from before it and for the no-query methods, which have nothing cheaper to compare with)
    leaderboard = models.JSONField(default=dict, blank=True)
    worker_seconds = models.FloatField(default=0.0)
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["workspace", "status"])]

    def __str__(self) -> str:
        return self.name or f"Job {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class MetricPoint(models.Model):
    """One logged point of a job's curves; written in batches by the worker."""

    # The curve columns, in the order pages and CSV downloads show them (after `seq`): the tuner's metric point.
    FIELDS = CURVES

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metrics")
    seq = models.PositiveIntegerField()  # strictly increasing per job: the browser asks for seq > last
    step = models.PositiveIntegerField()
    stage = models.CharField(max_length=16)
    queries = models.PositiveIntegerField()
    train_loss = models.FloatField(null=True)
    val_acc = models.FloatField(null=True)
    sharpness = models.FloatField(null=True)
    # Prompt jobs: share of the tuned vector's coordinates the stage-2 mask freezes. Sparse-adapter jobs
    # (adapt='sparse'): share of the image tower's parameters left unchanged, and how many changed.
    sparsity = models.FloatField(null=True)
    params_changed = models.PositiveBigIntegerField(null=True)
    elapsed_s = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="metric_seq_per_job")]
        ordering = ["seq"]


class WorkerStatus(models.Model):
    """Last sign of life of each worker, and what it measured of itself (for run-time estimates)."""

    hostname = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, default="cpu")
    last_seen = models.DateTimeField()
    # The queues this worker consumes, as ",default,tuning," (a plain string: every database can
    # search it); written by the worker's own check-in thread, cleared when it stops.
    queues = models.CharField(max_length=500, blank=True)
    backbone_loaded = models.CharField(max_length=300, blank=True)  # held in memory by its tuning process
    # The real CLIP backbones this worker can run, found when it starts: [{"id", "source", "sha256",
    # "size_bytes"}] (tuning/backbones/inventory.py); the job form and the API offer them.
    backbones_available = models.JSONField(default=list, blank=True)
    # {"<backbone>": what the worker measured of itself (webapp/jobs/time_model.py): load_s, image_s,
    # overhead_s, query_s {method: {"a", "b"}}}; measured at start, refined by every finished job
    timings = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "worker statuses"  # Django's default says "worker statuss"

    def __str__(self) -> str:
        return self.hostname

    @property
    def queue_names(self) -> list[str]:
        return [name for name in self.queues.split(",") if name]
