"""Launching a job: the form (backbones, methods, advanced settings, the tuner's own messages), the
service (a QUEUED row, a message to the tuning queue after commit) and who is refused."""

import pytest

from tests.webapp.factories import FAST_TUNING, csrf_client, csrf_post, make_ready_version
from tests.webapp.tiny_backbone import TINY_BACKBONE
from tuning import TuneConfig
from webapp.celery import app
from webapp.datasets.models import DatasetVersion
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(alice):
    return make_ready_version("Press line", name="scratches", user=alice, per_class=6)


def launch_data(version, **overrides) -> dict:
    data = {"dataset_version": version.pk, "backbone": TINY_BACKBONE, "method": "sharpzo", "shots": 2, "seed": 0,
            "budget": 300, "name": "", "model_line_name": ""}
    data.update({k: v for k, v in FAST_TUNING.items()})
    data.update(overrides)
    return data


def test_form_lists_backbones_with_the_demo_one_first_and_labelled(alice, version):
    page = csrf_client(alice).get("/jobs/new/").content.decode()
    demo = page.index('value="demo"')
    assert demo < page.index(f'value="{TINY_BACKBONE}"')
    assert "(demo backbone)" in page
    for method in ("sharpzo", "zeroshot", "cmaes", "zosgd", "coop"):
        assert f'value="{method}"' in page
    assert str(version) in page


def test_form_folds_advanced_settings_away_with_their_defaults_and_help(alice, version):
    page = csrf_client(alice).get("/jobs/new/").content.decode()
    details = page[page.index('<details id="advanced"'):page.index("</details>")]
    assert 'name="sparsity"' in details and f'value="{TuneConfig().sparsity}"' in details
    assert "Fraction of the d coordinates frozen by the Z-pruning mask" in details  # TuneConfig's help text
    assert 'name="budget"' not in details


def test_launch_creates_a_queued_job_and_enqueues_it_after_commit(alice, version, django_capture_on_commit_callbacks):
    client = csrf_client(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = csrf_post(client, "/jobs/new/", launch_data(version, model_line_name="line 3"))
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.status == Job.Status.QUEUED and job.attempts == 0
    assert job.workspace == version.dataset.workspace and job.created_by == alice
    assert (job.backbone, job.method, job.shots, job.budget) == (TINY_BACKBONE, "sharpzo", 2, 300)
    assert job.config["intrinsic_dim"] == 8 and job.config["sparsity"] == TuneConfig().sparsity
    assert job.model_line_name == "line 3"
    assert len(callbacks) == 1  # the message leaves only once the row is committed
    assert app.amqp.router.route({}, "webapp.jobs.tasks.run_tuning_job")["queue"].name == "tuning"


def test_bad_advanced_value_gets_the_tuners_plain_message_on_its_field(alice, version):
    response = csrf_post(csrf_client(alice), "/jobs/new/", launch_data(version, sparsity="1.5"))
    assert response.status_code == 200
    assert response.context["form"].errors["sparsity"] == ["Setting 'sparsity' must be at most 0.99, got 1.5."]
    assert 'id="advanced" open' in response.content.decode()
    assert not Job.objects.exists()


def test_too_many_shots_for_the_dataset_are_refused_in_plain_words(alice, version):
    response = csrf_post(csrf_client(alice), "/jobs/new/", launch_data(version, shots=5))
    assert "5 shots need 7 images in every class" in response.context["form"].errors["shots"][0]
    assert not Job.objects.exists()


def test_a_version_that_is_not_ready_cannot_be_chosen(alice, version):
    DatasetVersion.objects.filter(pk=version.pk).update(status=DatasetVersion.Status.INGESTING)
    response = csrf_post(csrf_client(alice), "/jobs/new/", launch_data(version))
    assert "dataset_version" in response.context["form"].errors
    assert not Job.objects.exists()


def test_another_workspaces_dataset_is_not_found(alice, version, make_user):
    bob = make_user("bob", workspace="Paint shop")
    response = csrf_post(csrf_client(bob), "/jobs/new/", launch_data(version))
    assert response.status_code == 404
    assert not Job.objects.exists()


def test_a_viewer_may_not_launch(version, make_user):
    viewer = make_user("victor", workspace="Press line", role="viewer")
    client = csrf_client(viewer)
    assert client.get("/jobs/new/").status_code == 403
    response = csrf_post(client, "/jobs/new/", launch_data(version))
    assert response.status_code == 403
    assert not Job.objects.exists()


def test_a_viewer_who_engineers_elsewhere_still_cannot_use_a_read_only_dataset(version, make_user):
    user = make_user("mixed", workspace="Press line", role="viewer")
    from webapp.accounts.models import Membership, Workspace

    Membership.objects.create(user=user, workspace=Workspace.objects.create(name="Own line"), role="engineer")
    response = csrf_post(csrf_client(user), "/jobs/new/", launch_data(version))
    assert response.status_code == 403
    assert not Job.objects.exists()


HUGE_SETTINGS = {"intrinsic_dim": 10**6, "popsize": 10**7, "budget": 2**31 - 1, "text_batch_size": 10**9}


@pytest.mark.parametrize("field, value", HUGE_SETTINGS.items())
def test_settings_beyond_their_bound_are_refused_on_their_field(alice, version, field, value):
    """Every tuning setting has an upper bound (TuneConfig's), said on the form and in the API's 400.
    Needs the bounds in tuning/config.py (the tuner states them once)."""
    from tests.webapp.factories import make_api_token

    client = csrf_client(alice)
    page = csrf_post(client, "/jobs/new/", launch_data(version, **{field: value}))
    assert page.status_code == 200 and "must be at most" in page.context["form"].errors.get(field, [""])[0]
    bound = TuneConfig.__dataclass_fields__[field].metadata["max"]
    assert f"{'at most' if field == 'budget' else 'to'} {bound:,}." in str(page.context["form"][field].help_text)

    api = client.post("/api/v1/jobs/", {"dataset_version": version.pk, "backbone": TINY_BACKBONE, field: value}
                      if field == "budget" else {"dataset_version": version.pk, "config": {field: value}},
                      content_type="application/json", headers={"Authorization": f"Bearer {make_api_token(alice)}"})
    assert api.status_code == 400 and field in api.json()["fields"]
    assert not Job.objects.exists()
