"""The report's mistakes gallery. What the worker records (class by class, the most
confident first, a page per class at most), and thumbnails served only for the job's own recorded
mistakes, only to members of its workspace."""

import pytest
import torch

from tests.webapp.factories import make_finished_job
from tests.webapp.mistakes_fixtures import job_with_mistakes
from tuning import Evaluation, Split
from webapp.jobs.mistakes import MISTAKES_PER_CLASS, mistakes_by_class, mistakes_of


def _evaluation(labels, predictions, confidences):
    split = Split(torch.zeros(len(labels), 4), torch.tensor(labels),
                  [f"/cache/{i:064x}.png" for i in range(len(labels))])
    return Evaluation(0.0, {}, [], predictions, confidences), split


def test_mistakes_are_kept_per_true_class_most_confident_first():
    evaluation, split = _evaluation(labels=[1, 0, 0, 1, 0, 1], predictions=[0, 1, 0, 1, 1, 0],
                                    confidences=[0.5, 0.6, 0.99, 0.7, 0.9, 0.8])
    found = mistakes_of(evaluation, split, ["ok", "scratch"])
    assert [(m["true"], m["predicted"], m["confidence"]) for m in found] == [
        ("ok", "scratch", 0.9), ("ok", "scratch", 0.6), ("scratch", "ok", 0.8), ("scratch", "ok", 0.5)]
    assert found[0]["sha256"] == f"{4:064x}"  # the image's name in the materialised dataset version


def test_at_most_a_page_of_mistakes_per_class_is_kept():
    n = MISTAKES_PER_CLASS + 5
    evaluation, split = _evaluation(labels=[0] * n + [1], predictions=[1] * n + [0],
                                    confidences=[i / (2 * n) for i in range(n)] + [0.9])
    found = mistakes_of(evaluation, split, ["ok", "scratch"])
    ok = [m for m in found if m["true"] == "ok"]
    assert len(ok) == MISTAKES_PER_CLASS and ok[-1]["confidence"] == round(5 / (2 * n), 4)
    assert [m["true"] for m in found[-1:]] == ["scratch"]


@pytest.mark.django_db
def test_the_report_groups_the_mistakes_by_true_class_with_counts(client, make_user):
    alice = make_user("alice", workspace="Press line")
    job, _ = job_with_mistakes("Press line", user=alice)
    groups = mistakes_by_class(job.evaluation)
    assert [(g["name"], g["wrong"], g["images"], [m["predicted"] for m in g["mistakes"]]) for g in groups] == [
        ("blue", 2, 4, ["red", "green"]), ("red", 1, 4, ["green"])]
    client.force_login(alice)
    page = client.get(f"/reports/jobs/{job.pk}/").content.decode()
    assert 'id="mistakes"' in page and "2 of 4 wrong" in page and "97% sure" in page
    assert page.index("97% sure") < page.index("55% sure") < page.index("80% sure")


@pytest.mark.django_db
def test_a_job_without_recorded_mistakes_shows_no_gallery(client, make_user):
    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, evaluation={"class_names": ["a", "b"],
                                                         "tuned": {"confusion": [[2, 0], [0, 2]]}})
    client.force_login(alice)
    assert 'id="mistakes"' not in client.get(f"/reports/jobs/{job.pk}/").content.decode()


@pytest.mark.django_db
def test_thumbnails_are_served_only_for_the_jobs_recorded_mistakes_to_its_workspace(client, make_user):
    alice = make_user("alice", workspace="Press line")
    bob = make_user("bob", workspace="Other plant")
    job, recorded = job_with_mistakes("Press line", user=alice)
    sha = next(iter(recorded))
    other_image = next(f["sha256"] for f in job.dataset_version.manifest["files"] if f["sha256"] not in recorded)
    url = f"/reports/jobs/{job.pk}/mistakes/{{}}.jpg"

    client.force_login(alice)
    response = client.get(url.format(sha))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"  # a JPEG, made once by the worker
    assert client.get(url.format(other_image)).status_code == 404  # in the dataset, but not a mistake of this job
    assert client.get(url.format("../" * 3 + "secret")).status_code == 404
    assert client.get(url.format("A" * 64)).status_code == 404

    client.force_login(bob)
    assert client.get(url.format(sha)).status_code == 404
