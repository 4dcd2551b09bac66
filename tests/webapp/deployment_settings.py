"""Settings of the processes in the several-machines test (test_several_machines.py): the test
settings plus the site's own scheduler, so that the default-queue worker's beat requeues the job of a
dead tuning worker as it would on a site (the other tests call the reaper themselves)."""

import webapp.settings as _site
from tests.settings import *  # noqa: F401,F403

CELERY_BEAT_SCHEDULE = _site.CELERY_BEAT_SCHEDULE
