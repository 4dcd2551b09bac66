"""The worker runtime: what a tuning worker process does with a job (claim, run, store) and the reaper
that watches the workers. The web side (create, cancel, estimate, pages) is `webapp.jobs`; it never
imports this package (it sends the task by name), so the runtime is a layer above it.

Nothing is imported here: modules are imported by their full path, and Celery finds the tasks through
CELERY_IMPORTS (webapp/settings.py)."""
