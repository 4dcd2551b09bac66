"""The tuner's rooms import one another one way only. Lowest floor first; a module may import its own floor
and the floors below it, never one above (function-local imports count, see tests/import_graph.py):

    names      the light vocabulary the web app reads without torch: errors, settings (config), the split
               rule, quality figures, the adapter card, checkpoints, the version, method and stage names,
               query costs, how the searches grow with the classes, backbone ids, the demo backbone's versions
    backbones  the frozen CLIP: catalogue, loader, precision, text towers, the prompt learner
    core       what a run is made of: data and features, the loss (objective), the run's state (runner)
    sparse     adapt='sparse': candidate groups, sensitivity, the sparse delta, the joint objective
    adapter    adapter files (load, apply, predict) and their evaluation on a held-out split
    methods    the estimators and one module per method, and the table that picks one (registry)
    entry      `tune` (tuner), the command line (__main__) and the package's lazy exports
"""
from __future__ import annotations

from pathlib import Path

from tests.import_graph import module_name, package_imports

TUNING = Path(__file__).resolve().parents[2] / "tuning"

FLOORS = ["names", "backbones", "core", "sparse", "adapter", "methods", "entry"]
NAMES = {"tuning.errors", "tuning.config", "tuning.splits", "tuning.quality", "tuning.card", "tuning.checkpoint",
         "tuning.version", "tuning.methods", "tuning.methods.names", "tuning.methods.stages",
         "tuning.methods.query_costs", "tuning.methods.search_size", "tuning.methods.leaderboard",
         "tuning.methods.choice", "tuning.backbones", "tuning.backbones.ids", "tuning.sparse"}
TOP = {"tuning.data": "core", "tuning.objective": "core", "tuning.runner": "core", "tuning.adapter": "adapter",
       "tuning.evaluation": "adapter", "tuning.tuner": "entry", "tuning.__main__": "entry", "tuning": "entry"}


def floor_of(module: str) -> str | None:
    """The floor a tuner module is on; None for other packages."""
    parts = module.split(".")
    if parts[0] != "tuning":
        return None
    if module in NAMES or (len(parts) > 1 and parts[1] == "demo_backbone"):
        return "names"
    if module in TOP:
        return TOP[module]
    if len(parts) > 2 and parts[1] in ("backbones", "sparse", "methods"):
        return parts[1]
    return None


def _resolve(imported: str, modules: set[str]) -> str:
    """`from tuning.x import name` names a module or something inside one: the module."""
    while imported not in modules and "." in imported:
        imported = imported.rpartition(".")[0]
    return imported


def test_every_module_has_a_floor():
    modules = [module_name(p, TUNING) for p in TUNING.rglob("*.py")]
    assert len(modules) > 30, "the test is looking in the wrong place"
    assert not [m for m in modules if floor_of(m) is None], "place each new module on a floor (this file)"


def test_no_module_imports_a_floor_above_its_own():
    modules = {module_name(p, TUNING) for p in TUNING.rglob("*.py")}
    wrong = []
    for module, path, imported, line in package_imports(TUNING):
        target = floor_of(_resolve(imported, modules))
        if target is not None and FLOORS.index(target) > FLOORS.index(floor_of(module)):
            wrong.append(f"{path.relative_to(TUNING.parent)}:{line} ({floor_of(module)}) imports {imported} ({target})")
    assert not wrong, "imports against the floors (see this test's docstring):\n" + "\n".join(wrong)


def test_the_top_level_stays_small():
    top = sorted(p.name for p in TUNING.glob("*.py"))
    assert len(top) <= 15, f"{len(top)} modules at the top of tuning/: give the new one a room ({top})"
