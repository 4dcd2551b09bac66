"""The web apps import one another one way only: a lower layer never imports a higher one, so there is no
import cycle between apps. Every import counts, at module level and inside functions (a function-local
import is still a dependency, only a later one); imports under `if TYPE_CHECKING:` are annotations, not
run, and do not count.

The rule, lowest layer first (each may import only the layers named for it):

    integrations  the one door to the tuner (`tuning`); imports no app
    core          foundations: parameters, heartbeats, storage trees, the broker scan; imports no app
    accounts      workspaces, memberships, who may write
    datasets      uploads, ingestion, dataset versions
    adapters      model lines and adapter versions (from a job, or uploaded), their files and evaluations;
                  a version names its job by the model label "jobs.Job", never by importing it
    jobs          the web side of tuning jobs: create, cancel, estimate, pages, worker health
    reports       reports and comparisons across jobs and adapters
    worker        the worker runtime (webapp/worker/): runs a job and creates its adapter version, the
                  reaper, the worker's check-in and housekeeping; the web side sends it tasks by name
    api           the JSON API over all of the above

The project modules (webapp/settings.py, urls.py, celery.py, wsgi.py, gunicorn_conf.py) wire the apps
together and are no layer.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.import_graph import imports, package_imports

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"

ALLOWED = {
    "integrations": set(),
    "core": set(),
    "accounts": {"core"},
    "datasets": {"integrations", "core", "accounts"},
    "adapters": {"integrations", "core", "accounts", "datasets"},
    "jobs": {"integrations", "core", "accounts", "datasets", "adapters"},
    "reports": {"integrations", "core", "accounts", "datasets", "adapters", "jobs"},
    "worker": {"integrations", "core", "accounts", "datasets", "adapters", "jobs", "reports"},
    "api": {"integrations", "core", "accounts", "datasets", "adapters", "jobs", "reports"},
}


def layer_of(module: str) -> str | None:
    """The layer a module of the web app belongs to; None for the project modules and for other packages."""
    parts = module.split(".")
    if parts[0] != "webapp" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in ALLOWED else None


def app_imports() -> dict[tuple[str, str], list[str]]:
    """{(importing layer, imported layer): ["webapp/x.py:12 imports webapp.y.z", ...]} between layers."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, path, imported, line in package_imports(WEBAPP):
        source, target = layer_of(module), layer_of(imported)
        if source is not None and target is not None and target != source:
            edges[(source, target)].append(f"{path.relative_to(WEBAPP.parent)}:{line} imports {imported}")
    return edges


def test_the_rule_itself_has_no_cycle():
    placed: list[str] = []
    remaining = dict(ALLOWED)
    while remaining:
        ready = [layer for layer, below in remaining.items() if below <= set(placed)]
        assert ready, f"the layers {sorted(remaining)} depend on one another in a circle"
        placed.extend(sorted(ready))
        for layer in ready:
            del remaining[layer]


def test_every_app_imports_only_the_layers_below_it():
    edges = app_imports()
    assert edges, "no import between apps found: the parser is looking in the wrong place"
    wrong = [f"{source} -> {target}: {where}" for (source, target), places in sorted(edges.items())
             if target not in ALLOWED[source] for where in places]
    assert not wrong, "imports against the layering (see this test's docstring):\n" + "\n".join(wrong)


def test_a_function_local_import_counts(tmp_path):
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from webapp.jobs.models import Job\n"
                     "def f():\n    from webapp.reports.selectors import summary_sentence\n"
                     "from ...worker import fence\n")
    found = {name for name, _ in imports(tree, "webapp.jobs.sub.mod", False)}
    assert "webapp.reports.selectors.summary_sentence" in found
    assert "webapp.worker.fence" in found
    assert not any(name.startswith("webapp.jobs.models") for name in found)  # under TYPE_CHECKING
    assert layer_of("webapp.worker.fence") == "worker" and layer_of("webapp.jobs.views") == "jobs"
    assert layer_of("webapp.celery") is None and layer_of("tuning.config") is None


def test_only_the_one_door_imports_the_tuner():
    """webapp/integrations/tuning/ alone imports `tuning`: the tuner's rules and names reach the web app,
    worker included, through it."""
    door = "webapp.integrations.tuning"
    wrong = [f"{path.relative_to(WEBAPP.parent)}:{line} imports {imported}"
             for module, path, imported, line in package_imports(WEBAPP)
             if imported.split(".")[0] == "tuning" and not (module == door or module.startswith(door + "."))]
    assert not wrong, "import the tuner through webapp/integrations/tuning/:\n" + "\n".join(wrong)
