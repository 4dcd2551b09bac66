"""Telling the engineer who launched a job that it ended: an e-mail through Django's e-mail backend
(the console by default; SMTP from the settings), sent once the row that ended the job is committed.
The open job page adds a browser notification of its own (static/js/job_plots.js)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

log = logging.getLogger(__name__)


def job_notify_after_commit(job_id: int) -> None:
    transaction.on_commit(lambda: job_notify(job_id))


def job_notify(job_id: int) -> bool:
    """E-mail the job's creator that it completed or failed. Never raises: a mail server that is down
    must not undo or fail the job. Returns whether a message was handed to the backend."""
    from webapp.jobs.models import Job

    job = Job.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.status not in (Job.Status.COMPLETED, Job.Status.FAILED):
        return False  # a cancelled job ended because someone asked: no news to send
    address = getattr(job.created_by, "email", "")
    if not address:
        return False
    subject, body = job_finished_message(job)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
    except Exception:  # noqa: BLE001 - SMTP errors vary; the job's outcome stands either way
        log.exception("job %s: the e-mail to %s could not be sent", job_id, address)
        return False
    return True


def job_finished_message(job) -> tuple[str, str]:
    from webapp.jobs.quality import job_quality
    from webapp.reports.selectors import summary_sentence

    site = settings.SITE_URL.rstrip("/")
    lines = [summary_sentence(job)]
    quality = job_quality(job)
    if quality:
        lines += quality.first_lines
    lines += ["", f"Job page: {site}{reverse('jobs:detail', args=[job.pk])}"]
    if job.status == job.Status.COMPLETED:
        lines.append(f"Report:   {site}{reverse('reports:job', args=[job.pk])}")
    return f"[Tuning] {job} {job.get_status_display().lower()}", "\n".join(lines) + "\n"
