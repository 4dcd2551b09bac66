# Load the Celery app with Django so that @shared_task binds to it in web and worker alike.
from webapp.celery import app as celery_app

__all__ = ["celery_app"]
