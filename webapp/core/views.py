from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import redirect, render

from webapp.core import health
from webapp.core.tasks import worker_checkin


def home(request):
    return redirect("jobs:list")


@login_not_required
def healthz(request):
    """Machine-readable health for load balancers and the serve script; asks workers to check in."""
    db_ok, db_detail = health.check_database()
    broker_ok, broker_detail = health.check_broker()
    if broker_ok:
        worker_checkin.delay()
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
