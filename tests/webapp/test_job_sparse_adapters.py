"""Sparse adapters, web side: the launch form and the API offer what to adapt and the share of the image model's
weights in plain words, refuse combinations the tuner cannot run with a message on the field, count the
sensitivity probes in the minimum budget; the report lists the tuned groups with their parameter counts."""

import json

import pytest
from django.test import Client

from tests.webapp.factories import (
    FAST_TUNING,
    csrf_client,
    csrf_post,
    make_api_token,
    make_finished_job,
    make_ready_version,
    make_version_for_job,
)
from tests.webapp.tiny_backbone import TINY_BACKBONE
from tuning import TuneConfig
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

# An adapter card's `sparse` section as tuning/sparse/setup.py writes it (a two-block image tower).
SPARSE_CARD = {
    "dims": {"prompt": 8, "head": 9, "vision": 12},
    "vision": {"image_parameters": 20_000, "image_blocks": 2, "parameter_budget": 400, "parameters_changed": 400,
               "first_tuned_block": 1, "allocation": "sensitivity", "probes_per_group": 2, "projection_bytes": 19_200,
               "groups": [{"group": "block0.mlp", "parameters": 8_000, "changed": 0, "sensitivity": 0.1},
                          {"group": "block1.ln", "parameters": 128, "changed": 128, "sensitivity": 4.0},
                          {"group": "block1.mlp", "parameters": 8_000, "changed": 272, "sensitivity": 2.0}],
               "tensors": [], "stored_as": "..."},
}


@pytest.fixture
def version(alice):
    return make_ready_version("Press line", name="scratches", user=alice, per_class=6)


def launch(version, **overrides) -> dict:
    return {"dataset_version": version.pk, "backbone": TINY_BACKBONE, "method": "sharpzo", "shots": 2, "seed": 0,
            "budget": 600, "name": "", "model_line_name": "", **FAST_TUNING, **overrides}


def test_the_form_offers_what_to_adapt_in_plain_words_beside_the_method(alice, version):
    page = csrf_client(alice).get("/jobs/new/").content.decode()
    main = page[:page.index('<details id="advanced"')]
    assert 'id="field-adapt"' in main and 'id="field-param_budget"' in main
    assert "Prompt only" in main and "Sparse adapters on both towers" in main
    for words in ("0% (prompt and head only; default)", "0.1%", "0.5%", "2%"):
        assert words in main
    advanced = page[page.index('<details id="advanced"'):]
    assert 'name="adapt"' not in advanced and 'name="param_budget"' not in advanced
    assert 'data-sparse-methods="sharpzo,cmaes,zosgd"' in page


def test_a_sparse_adapter_job_records_its_settings(alice, version):
    response = csrf_post(csrf_client(alice), "/jobs/new/", launch(version, adapt="sparse", param_budget="0.02"))
    assert response.status_code == 302, response.context["form"].errors
    job = Job.objects.get()
    assert (job.config["adapt"], job.config["param_budget"]) == ("sparse", 0.02)


def test_the_share_of_weights_counts_only_for_sparse_adapters(alice, version):
    response = csrf_post(csrf_client(alice), "/jobs/new/", launch(version, adapt="prompt", param_budget="0.02"))
    assert response.status_code == 302
    assert Job.objects.get().config["param_budget"] == TuneConfig().param_budget


@pytest.mark.parametrize("overrides, words", [
    ({"method": "linear_probe"}, "Linear probe cannot use them"),
    ({"method": "coop"}, "CoOp cannot use them"),
    ({"tip_cache": "on"}, "works on prompts only"),
])
def test_combinations_the_tuner_cannot_run_get_words_on_the_field(alice, version, overrides, words):
    response = csrf_post(csrf_client(alice), "/jobs/new/", launch(version, adapt="sparse", **overrides))
    assert response.status_code == 200 and not Job.objects.exists()
    errors = response.context["form"].errors
    assert list(errors) == ["adapt"] and words in errors["adapt"][0], errors
    assert words in response.content.decode()


def test_the_api_takes_the_same_settings_and_gives_the_same_messages(make_user, version):
    client, auth = Client(), f"Bearer {make_api_token(make_user('erin', workspace='Press line'))}"

    def post(body):
        return client.post("/api/v1/jobs/", json.dumps({"dataset_version": version.pk, "backbone": TINY_BACKBONE,
                                                        "shots": 2, "budget": 600, **body}),
                           content_type="application/json", HTTP_AUTHORIZATION=auth)

    refused = post({"method": "linear_probe", "adapt": "sparse"})
    assert refused.status_code == 400 and "adapt" in refused.json()["fields"]
    assert "Linear probe cannot use them" in refused.json()["error"]
    bad_share = post({"method": "sharpzo", "adapt": "sparse", "param_budget": 0.3})
    assert bad_share.status_code == 400 and "param_budget" in bad_share.json()["fields"]
    made = post({"method": "sharpzo", "adapt": "sparse", "param_budget": 0.02, "config": FAST_TUNING})
    assert made.status_code == 201, made.json()
    assert Job.objects.get().config["adapt"] == "sparse" and Job.objects.get().config["param_budget"] == 0.02


def test_once_a_sparse_adapter_recorded_the_backbone_the_form_says_how_many_weights_and_the_minimum_counts_probes(
        alice, version, tmp_path):
    client = csrf_client(alice)
    ask = {"budget": 600, "backbone": TINY_BACKBONE, "method": "sharpzo", "adapt": "sparse", "param_budget": "0.02"}
    assert "after the first sparse-adapter job" in client.get("/jobs/estimate.json", ask).json()["image_weights"]
    small = launch(version, adapt="sparse", budget=150)
    assert csrf_post(client, "/jobs/new/", small).status_code == 302  # blocks unknown: probes not counted

    make_version_for_job(make_finished_job("Press line", user=alice, backbone=TINY_BACKBONE), tmp_path,
                         sparse=SPARSE_CARD)
    body = client.get("/jobs/estimate.json", ask).json()
    assert body["image_weights"] == "2% of this backbone's image model is about 400 of its 20,000 weights."
    response = csrf_post(client, "/jobs/new/", small)
    message = response.context["form"].errors["budget"][0]
    # 4 groups per block x 2 blocks + 2 after them = 10 groups; one two-point probe each within 10 % of the budget
    assert "needs at least 201 queries" in message
    assert "one sensitivity probe of each of the image model's 10" in message


def test_the_report_lists_the_tuned_groups_and_their_parameter_counts(alice, tmp_path):
    job = make_finished_job("Press line", user=alice,
                            config={"method": "sharpzo", "adapt": "sparse", "param_budget": 0.02})
    make_version_for_job(job, tmp_path, sparse=SPARSE_CARD)
    page = csrf_client(alice).get(f"/reports/jobs/{job.pk}/").content.decode()
    assert "What the adapter changed" in page and "up to 2% of the image model" in page
    summary = page[page.index('id="adapted-summary"'):page.index("</p>", page.index('id="adapted-summary"'))]
    assert ("400 of the image model&#x27;s 20,000 weights" in summary
            or "400 of the image model's 20,000 weights" in summary)
    assert "the prompt (8 tuned numbers)" in summary and "(9 numbers)" in summary
    table = page[page.index('id="adapted-groups"'):page.index("</table>", page.index('id="adapted-groups"'))]
    assert "block 2: LayerNorm gains and biases" in table and "block 2: MLP weights" in table
    assert "block 1: MLP weights" not in table  # probed, but nothing of it changed
    assert "<td>8,000</td><td>272</td><td>0.50</td>" in table  # sensitivity relative to the most sensitive part


def test_a_prompt_only_report_has_no_such_section(alice, tmp_path):
    job = make_finished_job("Press line", user=alice)
    make_version_for_job(job, tmp_path)
    page = csrf_client(alice).get(f"/reports/jobs/{job.pk}/").content.decode()
    assert "What the adapter changed" not in page
