"""Bearer-token authentication and JSON errors for every API endpoint.

The API never looks at the session cookie: a request is the token's user or nobody (401), so a
browser's cookies cannot be used against it and CSRF does not apply.
"""

from __future__ import annotations

import json
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from webapp.adapters.files import StoredFileDamaged
from webapp.api.errors import BadRequest
from webapp.api.services import api_token_authenticate


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
            user = api_token_authenticate(key=_bearer_key(request))
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

        return csrf_exempt(login_not_required(wrapper))

    return decorate
