"""The one place that decides whether a user may see or change a workspace's object.

Every lookup of a dataset, job or adapter by id goes through `get_for_user`: objects of other
workspaces answer 404 (we do not reveal that they exist); read-only members get 403 on writes.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from webapp.accounts.models import Membership, Role, Workspace
from webapp.core.params import whole_number


def workspaces_for(user) -> QuerySet[Workspace]:
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user)


def visible(queryset: QuerySet, user, *, workspace_path: str = "workspace") -> QuerySet:
    """Restrict any queryset to the user's workspaces; `workspace_path` is the lookup to the workspace."""
    return queryset.filter(**{f"{workspace_path}__in": workspaces_for(user)})


def role_in(user, workspace: Workspace) -> str | None:
    membership = Membership.objects.filter(user=user, workspace=workspace).only("role").first()
    return membership.role if membership else None


def require_write(user, workspace: Workspace) -> None:
    if role_in(user, workspace) != Role.ENGINEER:
        raise PermissionDenied("Your role in this workspace is read-only: ask an engineer to do this.")


def require_posted_workspace(user, raw: str | None, *, refusal: str) -> None:
    """The workspace an upload form names: 404 when the user is not in it, 403 where their role is
    read-only. Without a usable id the form says what is missing, unless the user may write nowhere."""
    workspace_id = whole_number(raw)
    if workspace_id is None:
        if not Membership.objects.filter(user=user, role=Role.ENGINEER).exists():
            raise PermissionDenied(refusal)
        return
    workspace = workspaces_for(user).filter(pk=workspace_id).first()
    if workspace is None:
        raise Http404("Not found.")
    require_write(user, workspace)


def get_for_user(queryset: QuerySet, user, *, write: bool = False, workspace_path: str = "workspace", **lookup) -> Model:
    obj = visible(queryset, user, workspace_path=workspace_path).filter(**lookup).first()
    if obj is None:
        raise Http404("Not found.")
    if write:
        workspace = obj
        for part in workspace_path.split("__"):
            workspace = getattr(workspace, part)
        require_write(user, workspace)
    return obj
