"""The product's health: the load balancer's `healthz` and the operator's status page (database, broker,
live workers and the queues they serve)."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import redirect, render

from webapp.celery import app
from webapp.jobs import health

# Sent by name (webapp/worker/tasks.py): the web side never imports the worker runtime.
WORKER_CHECKIN_TASK = "webapp.core.tasks.worker_checkin"


def home(request):
    return redirect("jobs:list")


@login_not_required
def healthz(request):
    """Machine-readable health for load balancers and the serve script; asks workers to check in."""
    db_ok, db_detail = health.check_database()
    broker_ok, broker_detail = health.check_broker()
    if broker_ok:
        app.send_task(WORKER_CHECKIN_TASK)
    workers = [w.hostname for w in health.live_workers()] if db_ok else []
    queues = health.live_workers_by_queue() if db_ok else {}
    ok = db_ok and broker_ok
    body = {"ok": ok, "database": db_detail, "broker": broker_detail, "workers": workers, "queues": queues}
    return JsonResponse(body, status=200 if ok else 503)


def status_page(request):
    return render(
        request,
        "core/status.html",
        {
            "database": health.check_database(),
            "broker": health.check_broker(),
            "workers": health.live_workers(),
            "queues": health.live_workers_by_queue(),
            "fresh_seconds": settings.WORKER_FRESH_SECONDS,
        },
    )
