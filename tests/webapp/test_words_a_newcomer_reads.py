"""Words a newcomer reads on the first day: no "None order", no "1 queries", no "1 / 2000" for a method
without queries, the real bounds of shots and budget, no "Launch the first one" before a dataset
exists, a split sentence that matches the split table, and no stale "is queued"."""

import pytest
from django.template.loader import render_to_string
from django.test import Client

from tests.webapp.factories import csrf_client, make_finished_job, make_ready_version
from tuning import TuneConfig
from tuning.config import minimum_budget
from webapp.jobs.selectors import job_status_text

pytestmark = pytest.mark.django_db


def test_an_adapter_without_a_recorded_allocation_says_nothing_about_its_order():
    adapted = {"prompt_coordinates": 64, "head_coordinates": 9, "image_parameters": 1000, "parameters_changed": 5,
               "share_changed": 0.005, "parameter_budget": 5, "allocation": None, "rows": []}
    text = " ".join(render_to_string("reports/_adapted.html", {"adapted": adapted}).split())
    assert "None" not in text and "placed" not in text and "the budget allowed 5)." in text


def test_one_query_is_one_query_and_a_linear_probe_has_no_query_count(make_user):
    assert job_status_text(make_finished_job("Press line", queries_used=1)) == "Finished after 1 query."
    probe = make_finished_job("Press line", method="linear_probe", queries_used=1, name="probe job")
    assert job_status_text(probe) == "Finished."
    page = csrf_client(make_user("erin", workspace="Press line")).get("/jobs/").content.decode()
    row = page[page.index('data-job-id="%d"' % probe.pk):].split("</tr>")[0]
    assert "1 / 2000" not in row and "one pass over the training images, no query budget" in row
    detail = csrf_client(make_user("eve", workspace="Press line")).get(f"/jobs/{probe.pk}/").content.decode()
    assert "of 2000 queries" not in detail and "no query budget" in detail


def test_the_form_shows_the_real_bounds_of_shots_and_budget(make_user):
    client = csrf_client(make_user("erin", workspace="Press line"))
    version = make_ready_version("Press line", per_class=6)  # 6 images: at most 4 shots and 1 + 1 held out
    form = client.get("/jobs/new/", {"dataset_version": version.pk}).content.decode()
    labels = {name: form[form.index(f'id="field-{name}"'):].split("</label>")[0] for name in ("shots", "budget")}
    for name, label in labels.items():  # the tuner's own limits are not the bounds of this launch
        assert "Allowed:" not in label and f'id="bounds-{name}"' in label
    # as the page opens, the bounds of what it shows: this dataset, and the default method on its 3 classes
    assert "This dataset allows 1 to 4 shots per class." in labels["shots"]
    least = minimum_budget(TuneConfig(method="auto"), num_classes=3)
    assert labels["budget"].count("needs at least") == 1
    assert f"Auto needs at least {least:,} queries" in labels["budget"]
    answer = client.get("/jobs/estimate.json", {"budget": 2000, "backbone": "tiny-test", "method": "cmaes",
                                                "adapt": "prompt", "dataset_version": version.pk, "shots": 2}).json()
    assert answer["bounds"]["shots"] == "This dataset allows 1 to 4 shots per class."
    assert answer["bounds"]["budget"].startswith("CMA-ES needs at least ")
    probe = client.get("/jobs/estimate.json",
                       {"budget": 2000, "backbone": "tiny-test", "method": "linear_probe"}).json()
    assert "spends no query budget" in probe["bounds"]["budget"]


def test_the_empty_jobs_page_asks_for_a_dataset_before_a_job(make_user):
    client = csrf_client(make_user("erin", workspace="Press line"))
    page = client.get("/jobs/").content.decode()
    assert "Launch the first one" not in page and "upload one first" in page
    make_ready_version("Press line")
    assert "Launch the first one" in client.get("/jobs/").content.decode()


def test_the_split_sentence_matches_the_split_table(make_user):
    version = make_ready_version("Press line", per_class=40)
    erin = csrf_client(make_user("erin", workspace="Press line"))
    page = erin.get(f"/datasets/versions/{version.pk}/").content.decode()
    assert "keeps 1 image for validation and 1 for the final test" not in page
    assert "at least 1 of\n    each, up to as many validation images as shots" in page


def test_the_launch_message_does_not_go_stale(make_user, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(make_user("erin", workspace="Press line"))
    version = make_ready_version("Press line", per_class=6)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/jobs/new/", {"dataset_version": version.pk, "method": "cmaes", "backbone": "tiny-test",
                                              "budget": 2000, "shots": 2, "seed": 0, "adapt": "prompt"}, follow=True)
    page = response.content.decode()
    assert "is queued." not in page and "Launched " in page
