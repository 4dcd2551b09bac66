import pytest


@pytest.fixture
def alice(make_user):
    """An engineer of the "Press line" workspace: the usual actor of the job tests."""
    return make_user("alice", workspace="Press line")


@pytest.fixture
def jobs_hold():
    """Slows every tiny-backbone job to a crawl until the test calls `jobs_hold.release()`, so the
    test sees the job running however fast the machine is (see tests/webapp/tiny_backbone.py)."""
    from tests.webapp.tiny_backbone import HOLD_FILE

    class Hold:
        @staticmethod
        def release() -> None:
            HOLD_FILE.unlink(missing_ok=True)

    HOLD_FILE.parent.mkdir(parents=True, exist_ok=True)
    HOLD_FILE.touch()
    yield Hold
    Hold.release()


@pytest.fixture
def broker_down(monkeypatch):
    """The web side's broker is a port where nothing listens: a real refused connection. The app's
    connection pools are set aside so that new ones are made for this address, and put back after
    (`monkeypatch.undo()` brings the broker back in the middle of a test)."""
    from webapp.celery import app

    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)


@pytest.fixture
def tuning_worker_alive(db):
    """A worker that checked in a moment ago on the tuning queue, for page tests without worker processes
    (without one, a queued job says that no worker can take it instead of its queue position)."""
    from django.utils import timezone

    from webapp.jobs.models import WorkerStatus

    return WorkerStatus.objects.create(hostname="tuning@page-test", last_seen=timezone.now(), queues=",tuning,")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 protocol server (moto in server mode) on a free port, for the whole session; each test
    makes its own bucket with `s3_server.new_bucket(name)`."""
    from tests.webapp.servers import S3Server

    server = S3Server(tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    server.stop()
