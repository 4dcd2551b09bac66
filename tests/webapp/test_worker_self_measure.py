"""What a worker measures of itself when it starts (webapp/integrations/tuning/speed.py), on the tiny test
backbone: a line for every method from one run per family of methods that share a query path, the mixed
methods between their families, the cheap candidates' seconds as every searching method's run, and a job that
starts meanwhile stops it."""

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
