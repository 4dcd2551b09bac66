"""A job that fails for good after some progress keeps the best adapter found until then as a
version, fails with its plain reason, and leaves no checkpoint behind."""

import pytest
from django.core.files.storage import default_storage

from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.adapters.models import AdapterVersion
from webapp.jobs.models import Job
from webapp.worker.checkpoints import StorageCheckpoint
from webapp.worker.execution import job_execute

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_final_failure_after_a_checkpoint_keeps_the_best_adapter_so_far(alice, monkeypatch):
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=6), user=alice, budget=600)
    real_save, saved = StorageCheckpoint.save, []

    def second_save_fails(self, state):
        if Job.objects.get(pk=job.pk).checkpoint:
            saved.append(Job.objects.get(pk=job.pk).checkpoint)
            raise RuntimeError("the tuner broke after a checkpoint")  # not transient: no retry
        real_save(self, state)

    monkeypatch.setattr(StorageCheckpoint, "save", second_save_fails)
    monkeypatch.setattr(StorageCheckpoint, "__init__", _no_spacing(StorageCheckpoint.__init__))
    assert job_execute(job_id=job.pk, worker="in-process@test").startswith("failed")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.attempts == 1, job.error + job.log
    assert "best adapter" in job.error and "the tuner broke" in job.log
    assert AdapterVersion.objects.filter(job=job).count() == 1 and job.tuned_accuracy is not None
    assert job.checkpoint == "" and saved and not default_storage.exists(saved[0])


def _no_spacing(init):
    """Every checkpoint the tuner offers is saved, so the second one comes soon on any machine."""

    def wrapped(self, fence, **kwargs):
        init(self, fence, **{**kwargs, "min_interval_s": 0})

    return wrapped
