"""Pages for what went wrong, in the site's layout, in words, with a way back (webapp/urls.py names them
as Django's error handlers). A database outage is its own answer: 503 with Retry-After, since the page
works again by itself once the database is back. Requests that ask for JSON (the job page's poller, the
dataset progress bar, the estimate) get JSON.

These pages are rendered without the request's context processors: those read the user and their
workspaces from the database, which may be what failed. No stack trace, path or error text is shown.
"""

import sys

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string

RETRY_AFTER_SECONDS = 30
DATABASE_AWAY = ("The database is not answering just now, so this page cannot be shown. Nothing you saved is lost; "
                 "try again in a minute. If it lasts, tell whoever looks after this server.")


def _wants_json(request: HttpRequest) -> bool:
    return request.path.endswith(".json") or "application/json" in request.headers.get("Accept", "")


def _answer(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if _wants_json(request):
        response = JsonResponse({"error": message}, status=status)
    else:
        html = render_to_string("errors/page.html", {"title": title, "message": message, "status": status})
        response = HttpResponse(html, status=status)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def not_found(request: HttpRequest, exception=None) -> HttpResponseBase:
    return _answer(request, 404, "Page not found",
                   "There is no such page, or it belongs to a workspace you are not a member of.")


def forbidden(request: HttpRequest, exception=None, *, reason: str = "") -> HttpResponseBase:
    # Our own refusals are written for the user ("Your role in this workspace is read-only: ...");
    # `reason`, where the caller knows better (webapp/accounts/error_views.py), goes first.
    said = str(exception) if exception is not None and str(exception) else ""
    return _answer(request, 403, "Not allowed", reason or said or "Your account may not open this page.")


def server_error(request: HttpRequest) -> HttpResponseBase:
    """Called by Django while the exception is being handled, so sys.exc_info() is the cause."""
    if isinstance(sys.exc_info()[1], DatabaseError):
        return database_unavailable(request)
    return _answer(request, 500, "Something went wrong",
                   "The server could not answer this request. The details are in its log; try again, and if it "
                   "happens again, tell whoever looks after this server.")


def database_unavailable(request: HttpRequest) -> HttpResponseBase:
    return _answer(request, 503, "The database is away", DATABASE_AWAY)
