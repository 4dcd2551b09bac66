"""Quality on the web side: do no harm (a job that did not beat zero-shot on validation
says so, its version is marked not better and never becomes the line's latest), balanced accuracy
with 95% intervals and the test-image count on the job page, report, compare, CSV and API, and the
report's first lines (classes whose recall dropped, one-line recommendation)."""

import csv
import io
import re
from html import unescape
from types import SimpleNamespace

import pytest

from tests.webapp.factories import EVALUATION, csrf_client, make_finished_job, make_version_for_job
from webapp.jobs.models import Job
from webapp.worker.fence import Fence, job_finish

pytestmark = pytest.mark.django_db

NOT_BETTER = {"zero_shot_balanced_accuracy": 0.5, "tuned_balanced_accuracy": 0.5, "better_than_zero_shot": False,
              "sentence": "Tuning did not beat the untuned (zero-shot) model on the validation images "
                          "(balanced accuracy 50.0% vs 50.0% zero-shot): this adapter is not better than using no "
                          "adapter at all."}
BETTER = {"zero_shot_balanced_accuracy": 0.5, "tuned_balanced_accuracy": 0.7, "better_than_zero_shot": True,
          "sentence": ""}
# Item 3's case: the headline rises, but "blue" falls from 100% to 25%.
DROP = {
    "class_names": ["blue", "green", "red"],
    "zero_shot": {"accuracy": 0.46, "confusion": [[4, 0, 0], [5, 3, 2], [6, 1, 3]]},
    "tuned": {"accuracy": 0.62, "confusion": [[1, 3, 0], [1, 8, 1], [1, 1, 8]]},
    "validation": BETTER,
}


def _text(response) -> str:
    return re.sub(r"\s+", " ", unescape(response.content.decode()))


def test_job_finish_stores_the_validation_verdict_and_says_not_better_in_plain_words(make_user, tmp_path):
    from tests.webapp.factories import write_adapter_dir

    eng = make_user("eng", workspace="Press line")
    job = make_finished_job("Press line", user=eng, status=Job.Status.RUNNING, attempts=1, evaluation={})
    classes = tuple(sorted(job.dataset_version.class_counts))
    result = SimpleNamespace(queries_used=100, best_val_acc=0.5, peak_memory_bytes=1, stopped=False,
                             best_val_balanced_acc=0.5, zero_shot_val_balanced_acc=0.5, leaderboard=None)
    confusion = {"accuracy": 0.5, "per_class_accuracy": {}, "confusion": [[1, 1], [1, 1]]}
    finished = job_finish(fence=Fence(job.pk, 1), result=result, zero_shot=confusion, tuned=confusion,
                          class_names=classes, adapter_dir=write_adapter_dir(tmp_path / "a", class_names=classes),
                          worker_seconds=1.0)
    assert finished.evaluation["validation"]["better_than_zero_shot"] is False
    assert "did not beat the untuned (zero-shot) model" in finished.error
    version = finished.adapter_versions.get()
    assert version.metrics["better_than_zero_shot"] is False


def test_not_better_job_page_version_page_and_line_never_recommend_it(make_user, tmp_path):
    eng = make_user("eng", workspace="Press line")
    good = make_finished_job("Press line", evaluation={**EVALUATION, "validation": BETTER}, model_line_name="line 3")
    v1 = make_version_for_job(good, tmp_path)
    bad = make_finished_job("Press line", dataset_version=good.dataset_version, model_line_name="line 3",
                   evaluation={**EVALUATION, "validation": NOT_BETTER}, error=NOT_BETTER["sentence"])
    v2 = make_version_for_job(bad, tmp_path)
    worse = make_finished_job("Press line", dataset_version=good.dataset_version, model_line_name="line 3",
                     evaluation={**EVALUATION, "validation": {**BETTER, "tuned_balanced_accuracy": 0.6}})
    make_version_for_job(worse, tmp_path)  # v3: better than zero-shot, but worse than v1 on the same data
    assert v2.metrics["better_than_zero_shot"] is False
    client = csrf_client(eng)

    page = _text(client.get(f"/jobs/{bad.pk}/"))
    assert 'id="not-better"' in page and "did not beat the untuned (zero-shot) model" in page
    assert not re.search(r'id="not-better"[^>]*hidden', page)
    assert re.search(r'id="not-better"[^>]*hidden', _text(client.get(f"/jobs/{good.pk}/")))

    assert "Not better: this version did not beat" in _text(client.get(f"/adapters/versions/{v2.pk}/"))
    line_page = _text(client.get(f"/adapters/lines/{v1.model_line_id}/"))
    assert "Latest recommended version: <strong>v1</strong>" in line_page
    assert line_page.count("not better than zero-shot") == 1
    listing = _text(client.get("/adapters/"))
    recommended = re.search(r'class="recommended">(.*?)</td>', listing).group(1)
    assert f">v{v1.number}<" in recommended and "v3" not in recommended and "v2" not in recommended


def test_balanced_accuracy_with_interval_everywhere(make_user, tmp_path):
    eng = make_user("eng", workspace="Press line")
    job = make_finished_job("Press line", evaluation={**EVALUATION, "validation": BETTER})
    make_version_for_job(job, tmp_path)
    client = csrf_client(eng)
    # EVALUATION's tuned confusion: recalls 10/10, 8/10, 6/7 -> balanced (1 + .8 + .857) / 3 = 88.6 %
    page = _text(client.get(f"/jobs/{job.pk}/"))
    assert re.search(r'id="tuned-bacc">88\.6% \(95% interval \d+\.\d–\d+\.\d%\) on 27 test images', page)
    assert re.search(r'id="tuned-acc">88\.9% \(95% interval', page)

    report = _text(client.get(f"/reports/jobs/{job.pk}/"))
    assert "Balanced accuracy (mean per-class recall)" in report and "88.6% (95% interval" in report

    compare = _text(client.get("/reports/compare/"))
    assert re.search(r'class="balanced">\S+ → 88\.6', compare)
    csv_text = b"".join(client.get("/reports/compare.csv").streaming_content).decode().lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(csv_text)))
    row = dict(zip(rows[0], rows[1]))
    assert row["tuned balanced accuracy"] == "0.8857" and row["test images"] == "27"
    assert float(row["tuned balanced accuracy 95% low"]) < 0.8857 < float(row["tuned balanced accuracy 95% high"])
    assert row["better than zero-shot on validation"] == "yes"

    body = client.get(f"/api/v1/jobs/{job.pk}/", HTTP_ACCEPT="application/json")
    assert body.status_code in (200, 401)  # the API wants a bearer token; the payload is tested below
    from webapp.api.selectors import job_summary
    summary = job_summary(job)
    assert summary["tuned_balanced_accuracy"] == pytest.approx(0.8857, abs=1e-4)
    assert summary["test_images"] == 27 and summary["better_than_zero_shot"] is True
    lo, hi = summary["tuned_balanced_accuracy_interval"]
    assert lo < summary["tuned_balanced_accuracy"] < hi


def test_report_first_lines_name_dropped_classes_and_recommend(make_user):
    eng = make_user("eng", workspace="Press line")
    job = make_finished_job("Press line", zero_shot=0.46, tuned=0.62, evaluation=DROP)
    page = _text(csrf_client(eng).get(f"/reports/jobs/{job.pk}/"))
    first = re.search(r'<ul class="first-lines" id="first-lines">(.*?)</ul>', page).group(1)
    assert page.index('id="first-lines"') < page.index('id="summary"')
    assert "Recall dropped for blue (100% → 25%)." in first
    assert "Try more images for blue before deploying" in first

    not_better = make_finished_job("Press line", evaluation={**EVALUATION, "validation": NOT_BETTER})
    first = _text(csrf_client(eng).get(f"/reports/jobs/{not_better.pk}/"))
    assert "Do not deploy: tuning did not beat the untuned model on the validation images" in first


def test_dataset_page_says_what_the_split_gives(make_user):
    from tests.webapp.factories import make_ready_version
    from webapp.accounts.models import Workspace

    eng = make_user("eng", workspace="Press line")
    version = make_ready_version(Workspace.objects.get(name="Press line"), name="parts", per_class=6, user=eng)
    page = _text(csrf_client(eng).get(f"/datasets/versions/{version.pk}/"))
    assert "At 4 shots: training / validation / test" in page  # 6 images a class: at most 4 shots
    assert page.count('<td class="split">4 / 1 / 1</td>') == len(version.class_counts)
    assert "every class keeps images in validation" in page
