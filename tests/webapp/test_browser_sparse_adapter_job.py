"""Sparse adapters in a real browser: launch a sparse-adapter job on the demo backbone with a small budget (the
form shows what to adapt only for the methods that can, and the share of weights only for sparse
adapters), watch it finish, read the sparsity plot that says how much of the image model changed, and
find the tuned groups with their parameter counts in the report."""

import pytest

from tests.conftest import log_in, wait_for
from tests.webapp.factories import FAST_TUNING, make_ready_version
from webapp.jobs.models import Job, WorkerStatus

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TRACE_POINTS = "return document.getElementById('plot-sparsity').data.map(function (t) { return t.y; })"


def test_launch_a_sparse_adapter_job_and_read_its_sparsity_plot_and_report(browser, live_server, make_user,
                                                                           celery_worker):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    make_user("eng", workspace="Plant A", password="pw-for-tests-1")
    version = make_ready_version("Plant A", name="painted parts", per_class=6)
    log_in(browser, live_server, "eng")
    browser.get(f"{live_server.url}/jobs/new/?dataset_version={version.pk}")
    form = browser.find_element(By.ID, "job-form")
    wait = WebDriverWait(browser, 30)

    def shown(name):
        return browser.find_element(By.ID, f"field-{name}").is_displayed()

    Select(form.find_element(By.NAME, "backbone")).select_by_value("demo")
    assert not shown("adapt") and not shown("param_budget")  # the default, auto, chooses what to tune itself
    Select(form.find_element(By.NAME, "method")).select_by_value("cmaes")
    wait.until(lambda b: shown("adapt"))
    assert not shown("param_budget")  # the page set What to adapt to prompt only while auto was chosen
    Select(form.find_element(By.NAME, "method")).select_by_value("linear_probe")
    wait.until(lambda b: not shown("adapt"))  # the linear probe tunes nothing with queries
    assert not shown("param_budget")
    Select(form.find_element(By.NAME, "method")).select_by_value("cmaes")
    wait.until(lambda b: shown("adapt"))
    Select(form.find_element(By.NAME, "adapt")).select_by_value("prompt")
    wait.until(lambda b: not shown("param_budget"))
    Select(form.find_element(By.NAME, "adapt")).select_by_value("sparse")
    wait.until(lambda b: shown("param_budget"))
    Select(form.find_element(By.NAME, "param_budget")).select_by_visible_text("0.1%")
    wait.until(EC.text_to_be_present_in_element((By.ID, "param-budget-count"), "after the first sparse-adapter job"))

    def set_field(name, value):
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(str(value))

    set_field("shots", 2)
    set_field("budget", 300)
    wait.until(EC.text_to_be_present_in_element((By.ID, "estimate-basis"), "measured this backbone yet"))
    form.find_element(By.CSS_SELECTOR, "#advanced summary").click()
    for name, value in {**FAST_TUNING, "sparse_blocks": 1, "vision_dim": 8, "sensitivity_probes": 1}.items():
        set_field(name, value)
    form.find_element(By.ID, "launch").click()

    wait.until(EC.presence_of_element_located((By.ID, "job-live")))
    job = Job.objects.get()
    assert (job.config["adapt"], job.config["param_budget"], job.backbone) == ("sparse", 0.001, "demo")
    note = browser.find_element(By.ID, "sparsity-note").text
    assert "image model's weights this adapter leaves exactly as they are" in note and "0.1%" in note

    WebDriverWait(browser, 480).until(
        lambda b: b.find_element(By.ID, "job-live").get_attribute("data-finished") == "true")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error
    title = browser.execute_script("return document.getElementById('plot-sparsity')._fullLayout.title.text")
    assert title == "Image model left unchanged"
    unchanged, changed = browser.execute_script(TRACE_POINTS)
    points = list(job.metrics.exclude(params_changed=None).order_by("seq").values_list("sparsity", "params_changed"))
    assert changed == [p[1] for p in points] and unchanged == pytest.approx([p[0] for p in points])
    assert changed[0] == 0 and max(changed) > 0  # zero-shot changes nothing; the tuned image weights move
    assert all(0.99 <= share < 1 for share in unchanged[1:] if share != 1)  # at most 0.1 % changed, plus rounding

    browser.find_element(By.ID, "link-report").click()
    wait.until(EC.presence_of_element_located((By.ID, "adapted")))
    summary = browser.find_element(By.ID, "adapted-summary").text
    adapted = job.adapter_versions.get().metrics["adapted"]
    assert f"{adapted['parameters_changed']:,} of the image model's {adapted['image_parameters']:,} weights" in summary
    rows = browser.find_elements(By.CSS_SELECTOR, "#adapted-groups tr")[1:]
    assert rows and all(row.text.startswith(("block", "final LayerNorm", "projection")) for row in rows)
    assert sum(int(row.find_elements(By.TAG_NAME, "td")[2].text.replace(",", "")) for row in rows) == \
        adapted["parameters_changed"]

    # The next launch knows how many weights the share is on this backbone, and estimates with what this job
    # measured: a query of a sparse adapter that changes image weights, and the finishing (its images' encoding
    # only where they were not in the worker's feature cache already).
    figures = wait_for(lambda: WorkerStatus.objects.get().timings.get("demo"), message="the job's figures")
    line = figures["query_s"]["cmaes+image"]
    assert figures["jobs"] == 1 and line["a"] + line["b"] > 0 and figures["overhead_s"] > 0
    browser.get(f"{live_server.url}/jobs/new/?dataset_version={version.pk}")
    form = browser.find_element(By.ID, "job-form")
    Select(form.find_element(By.NAME, "backbone")).select_by_value("demo")
    Select(form.find_element(By.NAME, "method")).select_by_value("sharpzo")
    Select(form.find_element(By.NAME, "adapt")).select_by_value("sparse")
    wait.until(EC.text_to_be_present_in_element((By.ID, "param-budget-count"),  # the default share: none
                                                f"None of the image model's {adapted['image_parameters']:,} weights"))
    Select(form.find_element(By.NAME, "param_budget")).select_by_visible_text("0.5%")
    wait.until(EC.text_to_be_present_in_element((By.ID, "param-budget-count"),
                                                f"of its {adapted['image_parameters']:,} weights"))
    wait.until(EC.text_to_be_present_in_element((By.ID, "estimate-basis"), "refined by 1 finished job"))
