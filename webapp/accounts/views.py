"""The API tokens page: create (the key is shown once, in the response to the POST), list, revoke."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from webapp.accounts import selectors, services
from webapp.accounts.forms import ApiTokenForm


@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponseBase:
    new_key = None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, new_key = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
            form = ApiTokenForm()
        except ValidationError as refused:
            form.add_error("name", refused)
    response = render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "tokens": selectors.api_token_list(user=request.user), "new_key": new_key},
    )
    if new_key:
        response["Cache-Control"] = "no-store"  # the key must not linger in a browser or proxy cache
    return response


@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponseBase:
    services.api_token_revoke(user=request.user, token_id=pk)
    messages.success(request, "The token was revoked: scripts using it are refused from now on.")
    return redirect("accounts:api_tokens")
