"""The product's health: the load balancer's `healthz` and the operator's status page (database, broker,
live workers and the queues they serve)."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponsePermanentRedirect, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.templatetags.static import static

from webapp.jobs import health


def home(request: HttpRequest) -> HttpResponseBase:
    return redirect("jobs:list")


@login_not_required
def healthz(request: HttpRequest) -> HttpResponseBase:
    """For load balancers and bin/serve: ok or not ok. Only staff get the detail, since error text names
    hosts and addresses and worker names are host names; without the database no one is known to be
    staff. It only reads: workers check in by themselves (webapp/worker/checkin.py)."""
    db_ok, db_detail = health.check_database()
    broker_ok, broker_detail = health.check_broker()
    ok = db_ok and broker_ok
    body = {"ok": ok}
    if db_ok and request.user.is_staff:
        body.update(database=db_detail, broker=broker_detail, workers=[w.hostname for w in health.live_workers()],
                    queues=health.live_workers_by_queue())
    return JsonResponse(body, status=200 if ok else 503)


def status_page(request: HttpRequest) -> HttpResponseBase:
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


@login_not_required
def favicon(request: HttpRequest) -> HttpResponseBase:
    """The site's icon under the name browsers ask for. Its static URL is looked up per request: with hashed
    static files the manifest exists only after collectstatic, which runs after the URLs are first imported."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
