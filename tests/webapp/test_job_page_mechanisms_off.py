"""The job page says why its sharpness and sparsity plots have no curve for a SharpZO job that ran with
both mechanisms off (rho = 0 and sparsity = 0, the defaults since neither made a measurable difference),
and still draws them for a job that ran with them on: an old job's record, which lacks the two settings,
ran with them (TuneConfig.from_record)."""
import pytest
from django.test import Client

from tests.webapp.factories import make_finished_job
from tuning import TuneConfig

pytestmark = pytest.mark.django_db


def _page(user, job) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_default_sharpzo_job_says_it_measured_no_sharpness_and_froze_nothing(make_user):
    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, config=TuneConfig(method="sharpzo", budget=2000).to_dict())
    page = _page(alice, job)
    assert 'id="plot-sharpness"' not in page and 'id="plot-sparsity"' not in page
    assert "ran with the sharpness radius at 0" in page
    assert "SharpZO froze none of the adapter&#x27;s numbers" in page
    assert "Adapter sparsity (coordinates masked)" in page


def test_an_old_sharpzo_job_without_the_two_settings_still_draws_both_plots(make_user):
    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, config={"method": "sharpzo", "budget": 2000, "shots": 2})
    page = _page(alice, job)
    assert 'id="plot-sharpness"' in page and 'id="plot-sparsity"' in page
    assert 'id="sharpness-note"' not in page


def test_a_job_whose_record_names_a_setting_this_version_lacks_still_shows_its_page(make_user):
    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, config={"method": "sharpzo", "a_removed_setting": 1})
    assert 'id="plot-sharpness"' in _page(alice, job)  # read as it ran: the oldest settings, rho 0.1
