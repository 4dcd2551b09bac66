"""Why a job failed, in words a factory engineer can act on. The traceback goes to Job.log instead."""

from __future__ import annotations


def plain_reason(exc: BaseException) -> str:
    from celery.exceptions import SoftTimeLimitExceeded
    from django.conf import settings

    from webapp.integrations import tuning

    if isinstance(exc, tuning.CheckpointMismatch):
        return f"{exc} Launch the job again: it starts afresh."
    if isinstance(exc, tuning.BackboneError):
        return f"The backbone could not be loaded: {exc}"
    if isinstance(exc, tuning.DataError):
        return f"The dataset could not be used for this job: {exc}"
    if isinstance(exc, tuning.AdapterError):
        return f"The tuned adapter could not be saved: {exc}"
    if isinstance(exc, SoftTimeLimitExceeded):
        hours = settings.JOB_MAX_SECONDS / 3600
        return f"The job ran longer than the limit of {hours:g} hours and was stopped. Lower the budget."
    if _is_out_of_memory(exc):
        return ("The worker ran out of memory. Lower 'text batch size' in the advanced settings, use fewer "
                "classes or a smaller backbone.")
    if isinstance(exc, OSError):
        return (f"A file could not be read or written on the worker ({exc.strerror or type(exc).__name__}). "
                "Check the worker's disk space and the file storage, then launch the job again.")
    return (f"The job stopped because of an unexpected error on the worker ({type(exc).__name__}). "
            "The technical details are kept in the job log for support.")


def is_transient(exc: BaseException) -> bool:
    """A storage or network hiccup (shared folder, S3, a full disk being cleared): worth another
    attempt, which resumes from the last checkpoint, rather than failing the job for good."""
    return isinstance(exc, OSError)


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
