"""In a real browser: the job page's plots do not mislead. A plot the method cannot fill says so in
place of an empty frame; the loss caption speaks of the stage-2 line only when there is one, and then
says why the loss may jump; every plot's x-axis runs to the same query; the sparse-adapter plot's axes
fit its data (no 0-200% for a flat 100%, no "0 0 1 1 1"), and axis titles keep clear of tick labels."""

import pytest

from tests.conftest import log_in, wait_for
from tests.webapp.factories import make_finished_job
from webapp.jobs.models import Job, MetricPoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXES = """var l = document.getElementById(arguments[0])._fullLayout;
return {x: l.xaxis.range, y: l.yaxis.range, y2: l.yaxis2 ? l.yaxis2.range : null,
        ticks2: l.yaxis2 ? l.yaxis2.tickmode + " " + l.yaxis2.dtick : null};"""
TITLE_CLEAR = """var plot = document.getElementById(arguments[0]);
var title = plot.querySelector('.g-ytitle').getBoundingClientRect();
var ticks = Array.from(plot.querySelectorAll('.yaxislayer-above .ytick text')).map(t => t.getBoundingClientRect().left);
return ticks.length > 0 && title.right <= Math.min.apply(null, ticks);"""


def _points(job, rows, first_seq=1):
    MetricPoint.objects.bulk_create([MetricPoint(job=job, seq=first_seq + i, step=first_seq + i, elapsed_s=float(i),
                                                 **row)
                                     for i, row in enumerate(rows)])


def _open(browser, live_server, job):
    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    wait_for(lambda: browser.execute_script(
        "var p = document.getElementById('plot-loss'); return p && p.data && p.data[0].x.length > 0"),
        timeout=30, message="the loss curve")


def test_a_cmaes_job_says_it_measures_no_sharpness_and_speaks_of_no_stage_2(browser, live_server, make_user):
    from selenium.webdriver.common.by import By

    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, method="cmaes", config={"method": "cmaes", "adapt": "prompt"})
    _points(job, [{"stage": "cmaes", "queries": q, "train_loss": 1.5 - q / 1000, "val_acc": 0.5} for q in (20, 40, 60)])
    log_in(browser, live_server, "alice")
    _open(browser, live_server, job)
    assert not browser.find_elements(By.ID, "plot-sharpness")
    assert browser.find_element(By.ID, "sharpness-note").text.startswith("CMA-ES does not measure sharpness")
    assert not browser.find_element(By.ID, "stage-switch-note").is_displayed()
    assert "stage 2" not in browser.find_element(By.CSS_SELECTOR, "#plot-loss + .plot-note").text
    assert browser.execute_script(TITLE_CLEAR, "plot-loss") and browser.execute_script(TITLE_CLEAR, "plot-val")


def test_a_sharpzo_sparse_job_lines_up_its_plots_and_fits_the_share_axes(browser, live_server, make_user):
    from selenium.webdriver.common.by import By

    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, stage_switch_queries=100,
                            config={"method": "sharpzo", "adapt": "sparse", "param_budget": 0.005})
    stage1 = [{"stage": "cmaes", "queries": q, "train_loss": 1.0, "val_acc": 0.5, "sharpness": 0.1,
               "sparsity": 1.0, "params_changed": 0} for q in (25, 50, 75, 100)]
    stage2 = [{"stage": "zo", "queries": q, "train_loss": 4.2 - q / 200, "val_acc": 0.55,
               "sparsity": 1.0 - 1e-6 * q, "params_changed": q // 100} for q in (200, 300, 400, 500)]
    _points(job, stage1 + stage2)
    log_in(browser, live_server, "alice")
    _open(browser, live_server, job)
    note = browser.find_element(By.ID, "stage-switch-note")
    wait_for(note.is_displayed, timeout=10, message="the stage-switch note")
    assert "jump" in note.text and "stage 2" in note.text

    for plot in ("plot-loss", "plot-val", "plot-sharpness", "plot-sparsity"):  # sharpness used to stop at 100
        assert browser.execute_script(AXES, plot)["x"] == [0, 500], plot
    share = browser.execute_script(AXES, "plot-sparsity")
    assert 0.99 <= share["y"][0] < 1 <= share["y"][1] <= 1.001  # not 0-200%
    assert share["ticks2"] == "linear 1" and share["y2"][0] == 0  # whole weights on the right axis
    assert browser.execute_script(TITLE_CLEAR, "plot-sparsity")


def test_the_weights_changed_axis_follows_a_count_that_grows_while_the_page_is_open(browser, live_server, make_user):
    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, status=Job.Status.RUNNING, attempts=1,
                            config={"method": "sharpzo", "adapt": "sparse", "param_budget": 0.005})
    _points(job, [{"stage": "cmaes", "queries": 10, "train_loss": 1.0, "val_acc": 0.5, "sparsity": 1.0,
                   "params_changed": 2}])
    log_in(browser, live_server, "alice")
    _open(browser, live_server, job)
    wait_for(lambda: browser.execute_script(AXES, "plot-sparsity")["ticks2"] == "linear 1", timeout=20,
             message="whole-weight ticks")
    _points(job, [{"stage": "zo", "queries": 400, "train_loss": 0.9, "val_acc": 0.6, "sparsity": 0.995,
                   "params_changed": 250_000}], first_seq=2)
    wait_for(lambda: browser.execute_script(AXES, "plot-sparsity")["x"] == [0, 400], timeout=20,
             message="the new point")
    axes = browser.execute_script(AXES, "plot-sparsity")
    assert axes["ticks2"].startswith("auto") and axes["y2"][1] >= 250_000


def test_a_sparse_job_at_a_zero_share_says_there_is_nothing_to_draw(browser, live_server, make_user):
    from selenium.webdriver.common.by import By

    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice,
                            config={"method": "sharpzo", "adapt": "sparse", "param_budget": 0.0})
    _points(job, [{"stage": "cmaes", "queries": 20, "train_loss": 1.0, "val_acc": 0.5, "sparsity": 1.0,
                   "params_changed": 0}])
    log_in(browser, live_server, "alice")
    _open(browser, live_server, job)
    assert not browser.find_elements(By.ID, "plot-sparsity")
    assert browser.find_element(By.ID, "sparsity-note").text.startswith("At a 0% share the image model is left")
