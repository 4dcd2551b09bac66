"""Writes behind the JSON API. Job creation goes through the very form and service the web page uses,
so a script gets the same checks and the same messages as a person."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from webapp.accounts.models import ApiToken
from webapp.api.errors import BadRequest

TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is for people ("used 3 min ago"): no write per request


def api_token_authenticate(*, key: str | None):
    """The active user a key belongs to, or None. Keys are compared by their sha256 (only that is stored)."""
    if not key:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def api_job_create(*, user, payload: dict):
    """payload: {"dataset_version": id, "budget": ..., "method": ..., "backbone": ..., "shots": ...,
    "seed": ..., "name": ..., "model_line": ..., "config": {advanced TuneConfig settings}}; anything
    left out takes the web form's default for the chosen method (what to adapt, for one)."""
    from webapp.datasets.selectors import dataset_version_get
    from webapp.jobs.forms import JobCreateForm, adapt_default
    from webapp.jobs.services import job_create

    payload = dict(payload)
    advanced = payload.pop("config", None) or {}
    if not isinstance(advanced, dict):
        raise BadRequest("'config' must be a JSON object of tuning settings.")
    if "model_line" in payload:
        payload["model_line_name"] = payload.pop("model_line")
    version_id = payload.get("dataset_version")
    if not isinstance(version_id, int) or isinstance(version_id, bool):
        raise BadRequest("Give 'dataset_version': the id of a ready dataset version (see GET /api/v1/datasets/).",
                         {"dataset_version": ["This field is required."]})
    dataset_version_get(user=user, pk=version_id, write=True)  # 404 / 403 before anything else

    form = JobCreateForm(data={}, user=user)
    unknown = sorted((set(payload) | set(advanced)) - set(form.fields))
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}. Known: {', '.join(sorted(form.fields))}.")
    data = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    data.update(advanced)
    data.update(payload)
    if "adapt" not in payload and "adapt" not in advanced:
        data["adapt"] = adapt_default(data.get("method"))
    form = JobCreateForm(data=data, user=user)
    if not form.is_valid():
        fields = {name: list(errors) for name, errors in form.errors.items()}
        said = "; ".join(str(m) if name == "__all__" else f"{name}: {m}" for name, ms in fields.items() for m in ms)
        raise BadRequest(f"The job was not created. {said}", fields)
    cleaned = form.cleaned_data
    assert form.config is not None  # a valid form holds the checked config
    return job_create(user=user, dataset_version=cleaned["dataset_version"], config=form.config,
                      name=cleaned["name"], model_line_name=cleaned["model_line_name"], needs_gpu=cleaned["gpu"])
