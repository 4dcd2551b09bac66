"""Bearer-token authentication and JSON errors for every API endpoint.

The API never looks at the session cookie: a request is the token's user or nobody (401), so a
browser's cookies cannot be used against it and CSRF does not apply.
"""

from __future__ import annotations

import json
import logging
from functools import wraps

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from webapp.accounts.login_names import API_TOKEN_USERNAME
from webapp.adapters.files import StoredFileDamaged
from webapp.api.errors import BadRequest
from webapp.api.services import api_token_authenticate
from webapp.core.error_views import RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

TOKEN_CREDENTIALS = {"username": API_TOKEN_USERNAME}
# A line PC's script with an old token retries on its own: allow it more mistakes than a person.
# Tokens are 256-bit random, so the limit is about load and noise, not about guessing.
TOKEN_FAILURE_LIMIT = 20


def failure_limit(request, credentials) -> int:
    """AXES_FAILURE_LIMIT: a person's password, or a script's token."""
    return TOKEN_FAILURE_LIMIT if credentials == TOKEN_CREDENTIALS else settings.LOGIN_FAILURE_LIMIT


def error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _bearer_key(request) -> str | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[..." nested deeper than any job
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object, for example {\"dataset_version\": 3}.")
    return body


def api_endpoint(*methods: str):
    """Token-authenticated JSON view: 401 without a valid token, 404/403/400 as JSON with plain words."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error(405, f"Use {' or '.join(methods)} here.")
                response["Allow"] = ", ".join(methods)
                return response
            # Wrong tokens count as failed logins of one pseudo-user per address (django-axes, see settings).
            if not AxesProxyHandler.is_allowed(request, TOKEN_CREDENTIALS):
                minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
                return error(429,
                             f"Too many requests with a wrong token from this address; try again in {minutes} minutes.")
            key = _bearer_key(request)
            user = api_token_authenticate(key=key)
            if user is None and key:
                user_login_failed.send(sender=__name__, credentials=TOKEN_CREDENTIALS, request=request)
            if user is None:
                response = error(401, "A valid API token is required: send the header "
                                      "'Authorization: Bearer <token>'. Create a token under 'API tokens'.")
                response["WWW-Authenticate"] = 'Bearer realm="api"'
                return response
            request.user = user
            try:
                return view(request, *args, **kwargs)
            except Http404:
                return error(404, "Not found.")
            except PermissionDenied as exc:
                return error(403, str(exc) or "Your role does not allow this.")
            except BadRequest as exc:
                return error(400, exc.message, fields=exc.fields)
            except ValidationError as exc:
                fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
                return error(400, " ".join(m for ms in fields.values() for m in ms), fields=fields)
            except StoredFileDamaged as exc:
                return error(500, str(exc))
            except RequestDataTooBig:
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20
                return error(413, f"The request body is larger than {limit} MB; a job's settings take a few kilobytes.")

        @wraps(view)
        def answer_in_json(request, *args, **kwargs):
            """Outages too (the token check already reads the database): a script parses every reply."""
            try:
                return wrapper(request, *args, **kwargs)
            except DatabaseError:
                log.exception("API %s %s: database error", request.method, request.path)
                response = error(503, "The database is unreachable just now; try again in a minute.")
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return response
            except Exception:  # noqa: BLE001
                log.exception("API %s %s failed", request.method, request.path)
                return error(500, "The server failed to answer this request; the details are in its log.")

        answer_in_json.api_methods = methods  # read by the API's description (webapp/api/openapi.py)
        return csrf_exempt(login_not_required(answer_in_json))

    return decorate
