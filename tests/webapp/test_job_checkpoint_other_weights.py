"""A job on "demo" that saved a checkpoint on the first demo backbone and is picked up
again after the upgrade (where "demo" is v2) must not resume on v2: what the tuner found on v1's weights
means nothing on v2's. It fails with a reason that says so and what to do, keeps no adapter made of the
mix, and leaves no checkpoint behind."""

import errno
import json

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from tests.webapp.factories import make_ready_version, make_runnable_job
from tuning.demo_backbone import recorded_sha256
from tuning.demo_backbone.versions import V1
from webapp.adapters.models import AdapterVersion
from webapp.core.broker import TUNING_TASK
from webapp.jobs.models import Job
from webapp.worker.checkpoints import StorageCheckpoint
from webapp.worker.execution import job_execute

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_demo_job_checkpointed_on_v1_fails_in_words_instead_of_resuming_on_v2(alice, monkeypatch):
    # The retry's message goes to a queue no worker listens to: the test runs the second attempt itself
    # (a session worker on the usual queue would otherwise take the job first).
    monkeypatch.setitem(django_settings.CELERY_TASK_ROUTES, TUNING_TASK, {"queue": "tuning-v1-checkpoint-test"})
    job = make_runnable_job(make_ready_version("Press line", user=alice, per_class=6), user=alice,
                            backbone="demo", budget=300)
    real_save = StorageCheckpoint.save

    def storage_away_after_a_first_checkpoint(self, state):
        if self.fence.attempt == 1 and Job.objects.get(pk=job.pk).checkpoint:
            raise OSError(errno.EIO, "Input/output error")
        real_save(self, state)

    with monkeypatch.context() as patch:
        patch.setattr(StorageCheckpoint, "save", storage_away_after_a_first_checkpoint)
        patch.setattr(StorageCheckpoint, "__init__", _no_spacing(StorageCheckpoint.__init__))
        assert job_execute(job_id=job.pk, worker="in-process@test") == "requeued after a transient error"
    job.refresh_from_db()
    # As the code before v2 wrote it: on v1, with no record of the weights.
    state = json.loads(default_storage.open(job.checkpoint).read())
    del state["backbone_sha256"]
    default_storage.delete(job.checkpoint)
    assert default_storage.save(job.checkpoint, ContentFile(json.dumps(state).encode())) == job.checkpoint

    assert job_execute(job_id=job.pk, worker="in-process@test") == "failed"
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.attempts == 2, job.log
    v1 = recorded_sha256(V1)[:12]
    assert job.error.startswith(f"The checkpoint was written on backbone 'demo' with weights sha256 {v1}..., "
                                "but that backbone now has weights sha256 "), job.error
    assert job.error.endswith("no run resumes from it. Launch the job again: it starts afresh.")
    assert not AdapterVersion.objects.filter(job=job).exists() and job.checkpoint == ""


def _no_spacing(init):
    """Every checkpoint the tuner offers is saved, so the first one comes soon on any machine."""

    def wrapped(self, fence, **kwargs):
        init(self, fence, **{**kwargs, "min_interval_s": 0})

    return wrapped
