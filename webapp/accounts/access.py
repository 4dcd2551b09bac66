"""The one place that decides whether a user may see or change a workspace's object.

Every lookup of a dataset, job or adapter by id goes through `get_for_user`, which answers
`(object, can_write)` as Healthchecks' `_get_check_for_user` does: objects of other workspaces
answer 404 (we do not reveal that they exist); with `write=True`, read-only members get 403.
"May write" has one meaning everywhere: the workspace is one of `workspaces_writable(user=...)`.
"""

from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.http import Http404

from webapp.accounts.models import Membership, Role, Workspace
from webapp.accounts.selectors import workspaces_writable
from webapp.core.params import whole_number

M = TypeVar("M", bound=Model)
READ_ONLY = "Your role in this workspace is read-only: ask an engineer to do this."


def workspaces_for(user) -> QuerySet[Workspace]:
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user)


def visible(queryset: QuerySet[M], user, *, workspace_path: str = "workspace") -> QuerySet[M]:
    """Restrict any queryset to the user's workspaces; `workspace_path` is the lookup to the workspace."""
    return queryset.filter(**{f"{workspace_path}__in": workspaces_for(user)})


def get_for_user(queryset: QuerySet[M], user, *, write: bool = False, workspace_path: str = "workspace",
                 **lookup) -> tuple[M, bool]:
    """(object, can_write): 404 outside the user's workspaces; with `write`, 403 unless can_write.
    can_write comes with the object in the same query."""
    if not user.is_authenticated:
        raise Http404("Not found.")
    writable = Membership.objects.filter(user=user, role=Role.ENGINEER, workspace=OuterRef(workspace_path))
    obj = (visible(queryset, user, workspace_path=workspace_path).filter(**lookup)
           .annotate(user_can_write=Exists(writable)).first())
    if obj is None:
        raise Http404("Not found.")
    can_write = bool(obj.user_can_write)  # type: ignore[attr-defined]  # annotated just above
    if write and not can_write:
        raise PermissionDenied(READ_ONLY)
    return obj, can_write


def require_write(user, workspace: Workspace) -> None:
    """For services handed a workspace rather than an id to look up (forms already offer only
    workspaces_writable): the same rule, checked again where the write happens."""
    if not workspaces_writable(user=user).filter(pk=workspace.pk).exists():
        raise PermissionDenied(READ_ONLY)


def require_posted_workspace(user, raw: str | None, *, refusal: str) -> None:
    """The workspace an upload form names: 404 when the user is not in it, 403 where their role is
    read-only. Without a usable id the form says what is missing, unless the user may write nowhere."""
    workspace_id = whole_number(raw)
    if workspace_id is None:
        if not workspaces_writable(user=user).exists():
            raise PermissionDenied(refusal)
        return
    get_for_user(Workspace.objects.all(), user, write=True, workspace_path="pk", pk=workspace_id)
