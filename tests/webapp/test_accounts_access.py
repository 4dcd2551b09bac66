"""Workspaces and roles: login everywhere, engineer-only workspace choices, admin pages work."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from webapp.accounts.models import Membership, Workspace
from webapp.accounts.selectors import workspaces_writable
from webapp.datasets.models import Dataset, DatasetVersion

pytestmark = pytest.mark.django_db


def test_writable_workspaces_are_those_where_the_user_is_engineer(make_user):
    user = make_user("eng", workspace="Plant A")
    Membership.objects.create(user=user, workspace=Workspace.objects.create(name="Plant B"), role="viewer")
    Membership.objects.create(user=user, workspace=Workspace.objects.create(name="Plant C"), role="manager")
    make_user("stranger", workspace="Plant D")
    assert [w.name for w in workspaces_writable(user=user)] == ["Plant A"]


def test_single_workspace_is_chosen_without_asking(make_user):
    client = Client()
    client.force_login(make_user("eng", workspace="Plant A"))
    page = client.get(reverse("datasets:list")).content.decode()
    assert 'type="hidden" name="workspace"' in page


def test_user_without_engineer_role_sees_no_upload_form(make_user):
    client = Client()
    client.force_login(make_user("boss", workspace="Plant A", role="manager"))
    page = client.get(reverse("datasets:list")).content.decode()
    assert "Upload images" not in page and "Load the demo dataset" not in page


def test_login_page_is_open_and_the_rest_redirects():
    client = Client()
    assert client.get(reverse("login")).status_code == 200
    for name in ["datasets:list", "accounts:api_tokens"]:
        assert client.get(reverse(name)).status_code == 302


@pytest.mark.parametrize("url", [
    "/admin/", "/admin/accounts/workspace/", "/admin/accounts/workspace/add/", "/admin/accounts/apitoken/",
    "/admin/datasets/dataset/", "/admin/datasets/datasetversion/", "/admin/datasets/dataset/{dataset}/change/",
    "/admin/datasets/datasetversion/{version}/change/",
])
def test_admin_pages_work_for_staff(url, make_user):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    dataset = Dataset.objects.create(workspace=Workspace.objects.create(name="Plant A"), name="Steel")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, upload="x.zip", class_counts={"a": 3})
    client = Client()
    client.force_login(admin)
    assert client.get(url.format(version=version.pk, dataset=dataset.pk)).status_code == 200


def test_admin_refuses_ordinary_users(make_user):
    client = Client()
    client.force_login(make_user("eng", workspace="Plant A"))
    assert client.get("/admin/datasets/dataset/").status_code == 302
