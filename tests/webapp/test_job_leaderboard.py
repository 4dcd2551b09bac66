"""The leaderboard a job stored: each candidate with its validation balanced accuracy and interval, queries and
seconds, why the winner won and on how many images, on the job page and in the report; a single-method job's
page says when a cheaper candidate did as well."""

import re
from html import unescape

import pytest

from tests.webapp.factories import csrf_client, make_finished_job

pytestmark = pytest.mark.django_db


def _entry(key, label, bacc, queries, seconds, warm=None):
    return {"key": key, "method": key.split("@")[0], "warm_start": warm, "label": label, "val_balanced_acc": bacc,
            "val_balanced_acc_interval": [bacc - 0.05, bacc + 0.04], "val_acc": bacc, "queries": queries,
            "seconds": seconds}


AUTO_BOARD = {
    "entries": [_entry("zeroshot", "Zero-shot", 0.5, 1, 0.4), _entry("linear_probe", "Linear probe", 0.9, 1, 2.0),
                _entry("cmaes@linear_probe", "CMA-ES from Linear probe", 0.92, 999, 61.0, warm="linear_probe")],
    "chosen": "linear_probe", "validation_images": 96, "challenges": [], "warm_start": "linear_probe", "note": None,
    "reason": "Linear probe won: +40.0 points of balanced accuracy over Zero-shot on the same 96 validation images "
              "(95% paired interval +33.0 to +48.0), more than the noise; CMA-ES from Linear probe scored +2.0 "
              "points on those 96 images, within the noise (interval -1.0 to +5.2), so the cheaper Linear probe stays.",
}


def _text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", response.content.decode())))


@pytest.mark.parametrize("url", ["/jobs/{pk}/", "/reports/jobs/{pk}/"])
def test_the_leaderboard_shows_every_candidate_and_why_the_winner_won(make_user, url):
    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", method="auto", config={"method": "auto", "budget": 1000, "shots": 2},
                            leaderboard=AUTO_BOARD)
    page = _text(csrf_client(alice).get(url.format(pk=job.pk)))
    assert "Leaderboard: the candidates auto weighed" in page
    assert "Linear probe (chosen) (warm start)" in page and "CMA-ES from Linear probe" in page
    assert "92.0%" in page and "87.0–96.0%" in page and "999" in page
    assert AUTO_BOARD["reason"] in page
    assert "the same 96 validation images" in page


def test_an_auto_board_with_folds_says_how_many_images_each_decision_rested_on(make_user):
    alice = make_user("alice", workspace="Press line")
    entries = [{**e, "cv_balanced_acc": 0.8, "cv_balanced_acc_interval": [0.75, 0.85]} if "@" not in e["key"] else e
               for e in AUTO_BOARD["entries"]]
    board = {**AUTO_BOARD, "entries": entries, "folds": 5, "fold_images": 192}
    job = make_finished_job("Press line", method="auto", config={"method": "auto", "budget": 1000, "shots": 16},
                            leaderboard=board)
    page = _text(csrf_client(alice).get(f"/jobs/{job.pk}/"))
    assert "Cross-validated (192 images)" in page and "80.0%" in page and "75.0–85.0%" in page
    assert "all 192 training and validation images by 5-fold cross-validation" in page
    assert "on the same 96 validation images" in page


def test_a_single_method_job_names_a_cheaper_candidate_that_did_as_well(make_user):
    alice = make_user("alice", workspace="Press line")
    note = ("Linear probe did better on the same 96 validation images (90.0% balanced accuracy against 85.0% for "
            "CMA-ES) with 1 query and 2 s; method 'auto' would have tried it first.")
    board = {**AUTO_BOARD, "entries": AUTO_BOARD["entries"][:2] + [_entry("cmaes", "CMA-ES", 0.85, 2000, 130.0)],
             "chosen": "cmaes", "warm_start": None, "reason": "The job ran CMA-ES, the method it was given.",
             "note": note}
    job = make_finished_job("Press line", method="cmaes", leaderboard=board)
    page = _text(csrf_client(alice).get(f"/jobs/{job.pk}/"))
    assert "Compared with the quick methods" in page and note in page


def test_a_job_without_a_leaderboard_shows_none(make_user):
    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line")
    assert 'id="leaderboard"' not in csrf_client(alice).get(f"/jobs/{job.pk}/").content.decode()
