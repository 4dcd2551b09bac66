"""Writes for accounts: API tokens. The key is returned once and only its hash is kept."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from webapp.accounts.models import ApiToken


@transaction.atomic
def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and the key; the key cannot be recovered later, only revoked. A user has at
    most API_TOKENS_PER_USER: each is a row and a key that works until revoked, so they are not unlimited."""
    get_user_model()._default_manager.select_for_update().filter(pk=user.pk).first()  # one creation at a time
    limit = settings.API_TOKENS_PER_USER
    if ApiToken.objects.filter(user=user).count() >= limit:
        raise ValidationError(f"You have {limit} API tokens, the most one user may have. Revoke one you no longer "
                              f"use (the list says when each was last used), then create the new one.")
    key = ApiToken.new_key()
    token = ApiToken(user=user, name=" ".join((name or "").split()), key_hash=ApiToken.hash_key(key), prefix=key[:8])
    token.full_clean()
    token.save()
    return token, key


@transaction.atomic
def api_token_revoke(*, user, token_id: int) -> None:
    """Deleting the row is the revocation: the API looks tokens up by hash, so the key stops working."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    if not deleted:
        raise Http404("Not found.")
