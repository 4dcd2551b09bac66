"""The 403 page for a user who belongs to no workspace: told that, and whom to ask, rather than that
their role is read-only (which is what a refusal says to a member). Core's page does the rest."""

from django.db import DatabaseError

from webapp.accounts.models import Membership
from webapp.accounts.selectors import no_workspace_sentence
from webapp.core import error_views


def forbidden(request, exception=None):
    return error_views.forbidden(request, exception, reason=_no_workspace(request))


def _no_workspace(request) -> str:
    user = getattr(request, "user", None)
    try:
        if user is None or not user.is_authenticated or Membership.objects.filter(user=user).exists():
            return ""
        return no_workspace_sentence()
    except DatabaseError:  # this page must not fail in turn
        return ""
