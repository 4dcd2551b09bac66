"""Writes for model lines and adapter versions (HackSoft style: keyword-only, atomic, full_clean).

A version is created once, with the next free number of its model line, and never changed (see
AdapterVersion.save); the production alias and the history are the only things that move.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max

from webapp.accounts.access import require_write
from webapp.accounts.models import Workspace
from webapp.adapters import files
from webapp.adapters.adapted import adapted_summary
from webapp.adapters.models import AdapterEvent, AdapterVersion, ModelLine
from webapp.core.numbers import finite_or_none
from webapp.datasets.models import DatasetVersion
from webapp.integrations.tuning import AdapterCard
from webapp.integrations.tuning.adapters import read_adapter_card

if TYPE_CHECKING:  # annotations only: adapters never import jobs when running (test_import_layers.py)
    from webapp.jobs.models import Job


def model_line_get_or_create(*, workspace: Workspace, name: str) -> ModelLine:
    name = " ".join(name.split())  # "press  line 3" and "press line 3 " are the same line
    line = ModelLine.objects.filter(workspace=workspace, name=name).first()
    if line is not None:
        return line
    line = ModelLine(workspace=workspace, name=name)
    line.full_clean(validate_constraints=False)
    # get_or_create copes with a concurrent creator (it retries the read after the unique violation).
    line, _ = ModelLine.objects.get_or_create(workspace=workspace, name=name)
    return line


def read_adapter_directory(adapter_dir: Path) -> tuple[bytes, bytes, AdapterCard]:
    """(weights bytes, card bytes, card) after `tuning.load_adapter` accepted the folder.

    load_adapter checks the format version, the tensors and the card, and never unpickles; it raises
    tuning.AdapterError with a message meant for people. torch comes with it: only a worker calls this."""
    adapter_dir = Path(adapter_dir)
    card = read_adapter_card(adapter_dir)
    return (adapter_dir / files.WEIGHTS_NAME).read_bytes(), (adapter_dir / files.CARD_NAME).read_bytes(), card


def json_safe(value):
    """NaN and infinities become None: PostgreSQL's JSON refuses them (a class without test images
    has no accuracy)."""
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _store_version(
    *,
    line: ModelLine,
    weights: bytes,
    card_bytes: bytes,
    card: AdapterCard,
    fields: dict,
    action: str,
    actor,
) -> AdapterVersion:
    """Allocate the next number under a lock on the model line, store the files, create the row."""
    line = ModelLine.objects.select_for_update().get(pk=line.pk)
    number = (line.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    prefix = files.storage_prefix(line.pk, number)
    stored: list[str] = []
    try:
        weights_name = files.store_file(f"{prefix}/{files.WEIGHTS_NAME}", weights)
        stored.append(weights_name)
        card_name = files.store_file(f"{prefix}/{files.CARD_NAME}", card_bytes)
        stored.append(card_name)
        version = AdapterVersion(
            model_line=line,
            number=number,
            weights_file=weights_name,
            card_file=card_name,
            sha256=files.sha256_hex(weights),
            card_sha256=files.sha256_hex(card_bytes),
            size_bytes=len(weights),
            backbone_sha256=str(card.backbone_sha256 or ""),
            class_names=list(card.class_names or []),
            **{"backbone": str(card.backbone_id or ""), **fields},
        )
        version.full_clean()
        version.save()
        _event(line=line, version=version, actor=actor, action=action, detail=f"v{number}")
    except BaseException:
        for name in stored:  # nothing will refer to them: the transaction is rolled back
            files.default_storage.delete(name)
        raise
    return version


def _event(*, line: ModelLine, version: AdapterVersion | None, actor, action: str, detail: str = "") -> AdapterEvent:
    event = AdapterEvent(model_line=line, version=version, actor=actor, action=action, detail=detail[:300])
    event.full_clean()
    event.save()
    return event


def _adapted(card: AdapterCard, weights: bytes) -> dict:
    """A sparse adapter's tuned groups and counts (webapp/adapters/adapted.py), under "adapted"."""
    summary = adapted_summary(card, weights)
    return {"adapted": summary} if summary else {}


def _job_metrics(job: Job) -> dict:
    return {
        "zero_shot_accuracy": job.zero_shot_accuracy,
        "tuned_accuracy": job.tuned_accuracy,
        "best_val_accuracy": job.best_val_accuracy,
        "queries_used": job.queries_used,
        "budget": job.budget,
        "worker_seconds": job.worker_seconds,
        "peak_memory_bytes": job.peak_memory_bytes,
        **_validation_metrics(job),
    }


def _validation_metrics(job: Job) -> dict:
    """Do no harm: whether the version beat zero-shot on validation (None: not recorded)."""
    validation = (job.evaluation or {}).get("validation") or {}
    return {"better_than_zero_shot": validation.get("better_than_zero_shot"),
            "val_balanced_accuracy": validation.get("tuned_balanced_accuracy"),
            "zero_shot_val_balanced_accuracy": validation.get("zero_shot_balanced_accuracy")}


@transaction.atomic
def adapter_version_create_from_job(*, job: Job, adapter_dir: Path) -> AdapterVersion:
    """The worker calls this when a job ends with a result. Idempotent per job: a retried task gets
    the version the first attempt created instead of a second one."""
    weights, card_bytes, card = read_adapter_directory(adapter_dir)
    name = job.model_line_name.strip() or job.dataset_version.dataset.name
    line = model_line_get_or_create(workspace=job.workspace, name=name)
    ModelLine.objects.select_for_update().filter(pk=line.pk).first()  # serialise with other creators
    existing = AdapterVersion.objects.filter(job=job, source="job").first()
    if existing is not None:
        return existing
    return _store_version(
        line=line,
        weights=weights,
        card_bytes=card_bytes,
        card=card,
        fields={
            "job": job,
            "source": "job",
            "dataset_hash": job.dataset_version.content_hash,
            "method": job.method or str(card.method or ""),
            "config": json_safe(job.config or card.config or {}),
            "metrics": json_safe({**_job_metrics(job), "query_precision": card.query_precision,
                                  **_adapted(card, weights)}),
            "created_by": job.created_by,
        },
        action=AdapterEvent.Action.CREATED,
        actor=job.created_by,
    )


@transaction.atomic
def adapter_version_create_from_upload(
    *,
    user,
    workspace: Workspace,
    model_line_name: str,
    adapter_dir: Path,
    dataset_version: DatasetVersion,
    backbone: str,
    note: str = "",
) -> AdapterVersion:
    """Store an adapter tuned elsewhere (already validated by adapters.upload) and queue its
    evaluation on one of this workspace's dataset versions."""
    from webapp.adapters.tasks import evaluate_uploaded_adapter

    require_write(user, workspace)
    weights, card_bytes, card = read_adapter_directory(adapter_dir)
    line = model_line_get_or_create(workspace=workspace, name=model_line_name)
    version = _store_version(
        line=line,
        weights=weights,
        card_bytes=card_bytes,
        card=card,
        fields={
            "job": None,
            "source": "upload",
            "backbone": backbone,  # ours, as adapters.upload.check_backbone resolved it
            "note": note,
            "dataset_hash": "",  # an ingest content hash of ours; the card's own data digest stays in the card
            "method": str(card.method or "unknown"),
            "config": json_safe(card.config or {}),
            "metrics": json_safe(_adapted(card, weights)),  # the evaluation adds its numbers beside it
            "created_by": user,
            "evaluation_status": AdapterVersion.Evaluation.QUEUED,
            "evaluation_dataset_version": dataset_version,
        },
        action=AdapterEvent.Action.UPLOADED,
        actor=user,
    )
    transaction.on_commit(lambda: evaluate_uploaded_adapter.delay(version.pk))
    return version


@transaction.atomic
def model_line_set_production(*, version: AdapterVersion, user) -> ModelLine:
    line = ModelLine.objects.select_for_update().get(pk=version.model_line_id)
    require_write(user, line.workspace)
    if line.production_version_id == version.pk:
        return line
    line.production_version = version
    line.full_clean()
    line.save(update_fields=["production_version"])
    _event(line=line, version=version, actor=user, action=AdapterEvent.Action.SET_PRODUCTION,
           detail=f"v{version.number}")
    return line


@transaction.atomic
def model_line_clear_production(*, model_line: ModelLine, user) -> ModelLine:
    line = ModelLine.objects.select_for_update().get(pk=model_line.pk)
    require_write(user, line.workspace)
    previous = line.production_version
    if previous is None:
        return line
    line.production_version = None
    line.save(update_fields=["production_version"])
    _event(line=line, version=previous, actor=user, action=AdapterEvent.Action.CLEARED_PRODUCTION,
           detail=f"v{previous.number}")
    return line


def adapter_version_record_download(*, version: AdapterVersion, user, what: str) -> None:
    """Downloads are part of the audit trail: who took which version to a line PC, and when."""
    _event(line=version.model_line, version=version, actor=user, action=AdapterEvent.Action.DOWNLOADED,
           detail=f"v{version.number} {what}")


def adapter_version_claim_evaluation(*, version_id: int) -> bool:
    """Queued (or left running by a lost worker: evaluating again is safe) -> running, for the worker about
    to evaluate an uploaded version. False when there is nothing to evaluate."""
    Status = AdapterVersion.Evaluation
    return bool(AdapterVersion.objects.filter(pk=version_id, evaluation_status__in=[Status.QUEUED, Status.RUNNING])
                .update(evaluation_status=Status.RUNNING))


def adapter_version_save_evaluation(*, version: AdapterVersion, status: str, metrics: dict | None = None,
                                    error: str = "") -> AdapterVersion:
    """Bookkeeping of an uploaded version's evaluation (the only updates a version allows)."""
    version.evaluation_status = status
    version.evaluation_error = error
    fields = ["evaluation_status", "evaluation_error"]
    if metrics is not None:
        # What the file itself says (the "adapted" summary, stored at upload) stays beside the evaluation.
        kept = {key: value for key, value in (version.metrics or {}).items() if key == "adapted"}
        version.metrics = json_safe({**metrics, **kept})
        fields.append("metrics")
    version.save(update_fields=fields)
    if status == AdapterVersion.Evaluation.DONE:
        acc = (metrics or {}).get("tuned_accuracy")
        _event(line=version.model_line, version=version, actor=None, action=AdapterEvent.Action.EVALUATED,
               detail=f"v{version.number} on {version.evaluation_dataset_version}: "
                      + (f"{100 * acc:.1f}% accuracy" if acc is not None else "no accuracy"))
    return version
