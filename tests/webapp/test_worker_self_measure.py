"""What a worker measures of itself when it starts (webapp/integrations/tuning/speed.py), on the tiny test
backbone: a line for every method from one run per family of methods that share a query path, the mixed
methods between their families, the cheap candidates' seconds as every searching method's run, CMA-ES's own
work each generation, a job's finishing, and a job that starts meanwhile stops it."""

from types import SimpleNamespace

import pytest

from tests.webapp.tiny_backbone import TINY_BACKBONE
from tuning.methods import NO_QUERY_METHODS, Method
from webapp.integrations.tuning.speed import budget_shares, measure_load, measure_methods, seconds_per_query


@pytest.fixture(scope="module")
def backbone():
    return measure_load(TINY_BACKBONE, device="cpu")[0]


def at(line: dict, classes: int) -> float:
    return line["a"] + line["b"] * classes


def test_every_method_has_a_line_and_the_mixed_ones_lie_between_their_families(backbone):
    lines = measure_methods(backbone, TINY_BACKBONE)
    assert set(lines) == {method.value for method in Method}
    for method, line in lines.items():
        assert line["run"] > 0 and line["a"] >= 0 and line["b"] >= 0
        assert (at(line, 8) == 0) == (method in NO_QUERY_METHODS)
    for method, shares in budget_shares().items():
        assert sum(shares.values()) == pytest.approx(1.0)
        costs = [at(lines[family], 8) for family in shares]
        assert min(costs) - 1e-5 <= at(lines[method], 8) <= max(costs) + 1e-5
    # a searching method weighs the cheap candidates beside its adapter: their seconds are its run's
    probe, cache, zero_shot = (lines[m]["run"] for m in ("linear_probe", "tip_adapter", "zeroshot"))
    assert lines["cmaes"]["run"] == lines["auto"]["run"] == pytest.approx(probe + cache - zero_shot, abs=1e-3)


def test_a_job_that_starts_meanwhile_stops_the_measurement(backbone):
    asked = []
    assert measure_methods(backbone, TINY_BACKBONE, should_stop=lambda: asked.append(1) or len(asked) > 3) is None


def test_a_query_costs_the_seconds_between_the_zero_shot_point_and_the_last_one():
    # 50 queries in 5 s; the set-up before and the candidates weighed after (28 s in all) are the run's
    result = SimpleNamespace(history=[{"queries": 1, "elapsed_s": 2.0}, {"queries": 51, "elapsed_s": 7.0}],
                             elapsed_s=30.0, queries_used=51)
    assert seconds_per_query(result) == pytest.approx(0.1)


def test_cmaes_own_work_each_generation_is_timed_over_generations_that_decompose_its_covariance(backbone):
    """The family's short run is one generation, before pycma's first eigendecomposition; a job's generations
    pay for them every few generations (a fifth of a CMA-ES job's time on a loaded CPU)."""
    import warnings

    import numpy as np

    from tuning.config import TuneConfig, tuned_dim
    from tuning.methods.cmaes import new_es
    from webapp.integrations.tuning.speed import (
        FAMILY_CLASSES,
        GENERATIONS_TIMED,
        WARM_GENERATIONS,
        _cma_bookkeeping_per_query,
    )

    config = TuneConfig.from_dict({"method": "cmaes", "backbone": TINY_BACKBONE, "adapt": "sparse", "param_budget": 0})
    es = new_es(tuned_dim(config, FAMILY_CLASSES), config)
    decompositions = []
    for _ in range(WARM_GENERATIONS + GENERATIONS_TIMED):
        decompositions.append(es.sm.count_eigen)
        candidates = es.ask()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es.tell(candidates, np.random.default_rng(0).random(len(candidates)).tolist())
    # as in a job's later generations: one in two decomposes
    assert es.sm.count_eigen - decompositions[WARM_GENERATIONS] == GENERATIONS_TIMED // 2
    assert _cma_bookkeeping_per_query(TINY_BACKBONE, stop=lambda: False) > 0
    assert _cma_bookkeeping_per_query(TINY_BACKBONE, stop=lambda: True) is None


def test_a_jobs_finishing_is_measured_at_start_not_guessed(backbone):
    """Evaluating the tuned adapter and writing it: before, 2 s were assumed until a job finished (ten times the
    demo backbone's real figure), which made short first jobs look twice as long."""
    from webapp.integrations.tuning.speed import measure_finishing

    assert measure_finishing(backbone, TINY_BACKBONE) > 0
