"""First start: create a login and a workspace so that a new user can sign in at once."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from webapp.accounts.models import Membership, Role, Workspace


class Command(BaseCommand):
    help = "Create the first user and workspace if there is no user yet; print the login once."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.exists():
            return
        password = secrets.token_urlsafe(9)
        user = User.objects.create_superuser(username="admin", password=password, email="")
        workspace = Workspace.objects.create(name="My factory")
        Membership.objects.create(user=user, workspace=workspace, role=Role.ENGINEER)
        path = settings.VAR_DIR / "first-login.txt"
        path.write_text(f"user: admin\npassword: {password}\n")
        path.chmod(0o600)
        self.stdout.write(f"==> first login: user 'admin', password '{password}' (also in {path})")
