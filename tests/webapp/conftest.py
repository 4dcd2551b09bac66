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
