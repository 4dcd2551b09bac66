"""The measurement protocol: a setting (an "arm") against a base, paired by seed, on every set.

Each seed draws its own few-shot split; base and arm run on the same split, so the difference per seed
removes the split's luck, and the 95% interval of the mean difference (Student's t over the seeds)
says whether the arm helps (interval above 0), hurts (below 0) or has no measurable effect (it
straddles 0). Accuracies are balanced (mean per-class recall): the factory sets are unbalanced.

Selection stays on validation: inside a run the adapter is chosen on validation (the tuner's rule),
and the verdict that may move a default is the validation one. The test split is read only by the
report after all runs, and `--validation-only` leaves it unread altogether.

    python -m bench protocol --name rho --sets neu-det,xsdd,bsd_pitting,demo --seeds 0,1,2,3,4 \\
        --set method=sharpzo --base rho=0.1 --arm rho=0 --arm rho=0.5

Writes bench/results/protocol_<name>.md after every seed of every set (a cut-short run leaves its
partial table), with wall and CPU seconds and the load average beside the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import common
from .common import load_line, table, timed, write
from .protocol_plot import plot_intervals

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SETS = ("neu-det", "xsdd", "bsd_pitting", "demo")  # "demo": the textile set of conformal-clip-data
HELPS, HURTS, NONE = "helps", "hurts", "no measurable effect"


def paired_interval(base: list[float], arm: list[float]) -> tuple[float, float, float]:
    """(mean, low, high) of arm - base over paired seeds: a 95% Student-t interval (seeds are few)."""
    if len(base) != len(arm):
        raise ValueError("paired differences need the same seeds on both sides")
    diffs = [a - b for a, b in zip(arm, base)]
    mean = statistics.mean(diffs)
    if len(diffs) < 2:
        return mean, float("-inf"), float("inf")
    from scipy.stats import t
    half = t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    return mean, mean - half, mean + half


def verdict(low: float, high: float) -> str:
    """helps / hurts / no measurable effect, from the interval of the paired difference."""
    return HELPS if low > 0 else HURTS if high < 0 else NONE


def describe(base: list[float], arm: list[float]) -> tuple[str, str]:
    """('+1.2 (-0.3 to +2.7)', verdict) in points, for a table cell."""
    m, lo, hi = paired_interval(base, arm)
    if len(base) < 2:
        return f"{100 * m:+.1f} (one seed: no interval)", verdict(lo, hi)
    return f"{100 * m:+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f})", verdict(lo, hi)


def dataset_folders(names: list[str], cache_dir: str,
                    root: Path = SHARED_DATASETS) -> tuple[dict[str, Path], list[str]]:
    """({name: folder} for the sets present, [names absent]); 'demo' is written from its package."""
    present, absent = {}, []
    for name in names:
        if name == "demo":
            try:
                from .quality import demo_dataset_folder
                present[name] = demo_dataset_folder(cache_dir)
            except ImportError:  # the package with the textile images is not installed
                absent.append(name)
        elif (root / name).is_dir():
            present[name] = root / name
        elif Path(name).is_dir():
            present[Path(name).name] = Path(name)
        else:
            absent.append(name)
    return present, absent


@dataclass
class Measurement:
    val: float  # balanced validation accuracy of the adapter the run chose
    test: float | None  # balanced test accuracy; None until the report reads the test split
    queries: int
    wall_s: float
    cpu_s: float
    adapter: object = field(default=None, repr=False)


def tune_arm(bb, data, settings: dict, *, seed: int, shots: int) -> Measurement:
    """One tuning run; the test split is not read here."""
    import tuning
    cfg = tuning.TuneConfig.from_dict({**settings, "backbone": bb.id, "seed": seed, "shots": shots,
                                       "device": str(bb.device)})
    with timed() as timing:
        r = tuning.tune(cfg, data, backbone=bb)
    val = r.best_val_balanced_acc if r.best_val_balanced_acc is not None else r.best_val_acc
    return Measurement(val, None, r.queries_used, timing.wall_s, timing.cpu_s, r.adapter)


def test_accuracy(bb, data, m: Measurement) -> float:
    """The report's only read of the test split: balanced accuracy of the adapter already chosen."""
    import tuning
    ev = tuning.evaluate(bb, data.test, adapter=m.adapter, class_names=data.class_names)
    return ev.balanced_accuracy if ev.balanced_accuracy is not None else ev.accuracy


_backbones: dict = {}


def _backbone_of_this_process(backbone: str, device: str, threads: int | None):
    """The backbone, loaded once per process (a pool process loads its own, with `threads` torch threads)."""
    if threads is not None:
        import torch
        torch.set_num_threads(threads)
    if (backbone, device) not in _backbones:
        import tuning
        _backbones[(backbone, device)] = tuning.load_backbone(backbone, device=device)
    return _backbones[(backbone, device)]


def measure_split(split, backbone: str, device: str, *, shots: int, cache_dir: str, settings: dict, arms: dict,
                  with_test: bool, threads: int | None = None):
    """Every arm on one (set, seed) split, each chosen on validation; then, unless with_test is False, the
    report's read of the test split for the adapters already chosen. Returns (set, seed, {label: Measurement})."""
    import tuning
    name, folder, seed = split
    bb = _backbone_of_this_process(backbone, device, threads)
    data = tuning.load_image_folder(folder, backbone=bb, shots=shots, seed=seed, cache_dir=cache_dir)
    measured = {label: tune_arm(bb, data, {**settings, **over}, seed=seed, shots=shots) for label, over in arms.items()}
    for m in measured.values():
        if with_test:
            m.test = test_accuracy(bb, data, m)
        m.adapter = None  # keep memory flat over many runs, and nothing large to send between processes
    return name, seed, measured


def measure_splits(splits: list, backbone: str, device: str, processes: int, **per_split):
    """measure_split over every split: here in order, or in `processes` processes as they finish."""
    if processes <= 1:
        for split in splits:
            yield measure_split(split, backbone, device, **per_split)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(measure_split, split, backbone, device, threads=1, **per_split) for split in splits]
        for future in as_completed(futures):
            yield future.result()


def arm_label(items: list[str]) -> str:
    return " ".join(items) if items else "(defaults)"


def report(runs: dict, labels: list[str], sets: list[str], seeds: list[int], *, with_test: bool) -> tuple[str, list]:
    """Per set: each row's means and its paired difference against the first label (the base);
    then, per arm, its verdicts counted over the sets. runs maps (set, label, seed) to Measurement."""
    base, sections, verdicts = labels[0], [], []
    head = ["arm", "seeds", "val bal. acc %", "val diff vs base (95%)", "val verdict"]
    head += ["test bal. acc %", "test diff vs base (95%)", "test verdict"] if with_test else []
    head += ["queries", "wall s", "CPU s"]
    for name in sets:
        rows = []
        for label in labels:
            paired = [s for s in seeds if (name, label, s) in runs and (name, base, s) in runs]
            if not paired:
                continue
            ms = [runs[(name, label, s)] for s in paired]
            bs = [runs[(name, base, s)] for s in paired]
            row = [label, len(ms), f"{100 * statistics.mean(m.val for m in ms):.1f}"]
            vd = describe([b.val for b in bs], [m.val for m in ms]) if label != base else ("-", "-")
            row += list(vd)
            td = ("-", "-")
            if with_test:
                td = describe([b.test for b in bs], [m.test for m in ms]) if label != base else ("-", "-")
                row += [f"{100 * statistics.mean(m.test for m in ms):.1f}", *td]
            row += [f"{statistics.mean(m.queries for m in ms):.0f}", f"{statistics.mean(m.wall_s for m in ms):.1f}",
                    f"{statistics.mean(m.cpu_s for m in ms):.1f}"]
            rows.append(row)
            if label != base and len(paired) >= 2:
                verdicts.append((name, label, len(paired), vd, td))
        if rows:
            sections.append(f"### {name}\n\n" + table(head, rows))
    return "\n\n".join(sections), verdicts


def verdict_summary(verdicts: list, *, with_test: bool) -> str:
    """Per arm: on which sets it helps / hurts / has no measurable effect, on validation (what moves a default)
    and, when read, on test."""
    by_arm: dict[str, dict[str, list[str]]] = {}
    for name, label, _, (_, v_val), (_, v_test) in verdicts:
        by_arm.setdefault(label, {}).setdefault(v_val, []).append(name)
        if with_test:
            by_arm[label].setdefault("test " + v_test, []).append(name)
    kinds = [HELPS, HURTS, NONE] + ([f"test {v}" for v in (HELPS, HURTS, NONE)] if with_test else [])
    rows = [[label, *(", ".join(c.get(v, [])) or "-" for v in kinds)] for label, c in by_arm.items()]
    head = [f"validation: {k}" for k in (HELPS, HURTS, NONE)] + kinds[3:]
    return ("Verdicts over the sets (a default moves only on the validation verdict):\n\n"
            + table(["arm", *head], rows)) if rows else ""


def pooled(runs: dict, labels: list[str], *, with_test: bool) -> str:
    """Per arm, every (set, seed) pair at once: more pairs give a narrower interval for an effect the sets share
    (a set's own effect is in its section above)."""
    base, rows = labels[0], []
    for label in labels[1:]:
        pairs = [(runs[key], runs[(key[0], base, key[2])]) for key in runs
                 if key[1] == label and (key[0], base, key[2]) in runs]
        if len(pairs) < 2:
            continue
        row = [label, len(pairs), *describe([b.val for _, b in pairs], [m.val for m, _ in pairs])]
        if with_test:
            row += describe([b.test for _, b in pairs], [m.test for m, _ in pairs])
        rows.append(row)
    head = ["arm", "pairs", "val diff vs base (95%)", "val verdict"]
    head += ["test diff vs base (95%)", "test verdict"] if with_test else []
    return ("Pooled over every set and seed:\n\n" + table(head, rows)) if rows else ""


def save_runs(path: Path, record: dict, runs: dict) -> None:
    """The measurements behind the tables, so a run cut short goes on with --resume."""
    rows = [{"set": name, "label": label, "seed": seed, "val": m.val, "test": m.test, "queries": m.queries,
             "wall_s": m.wall_s, "cpu_s": m.cpu_s} for (name, label, seed), m in runs.items()]
    path.write_text(json.dumps({**record, "runs": rows}, indent=1))


def load_runs(path: Path, record: dict) -> dict:
    """The runs of an earlier call with the same settings and arms (else none: they measured something else)."""
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())
    if {k: saved.get(k) for k in record} != record:
        print(f"{path.name} holds other settings or arms: starting afresh")
        return {}
    return runs_of(saved)


def runs_of(saved: dict) -> dict:
    """(set, label, seed) -> Measurement, from a result file's JSON."""
    return {(r["set"], r["label"], r["seed"]): Measurement(r["val"], r["test"], r["queries"], r["wall_s"], r["cpu_s"])
            for r in saved["runs"]}


def main(argv=None):
    from .quality import CPU_SETTINGS, GPU_SETTINGS, settings_record, with_overrides

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--name", required=True, help="result file: bench/results/protocol_<name>.md")
    ap.add_argument("--sets", default=",".join(SETS), help="dataset names under ../shared/datasets, 'demo' or folders")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--backbone", default="demo")
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="settings of every row")
    ap.add_argument("--base", nargs="*", default=[], metavar="KEY=VALUE", help="the base row's own settings")
    ap.add_argument("--arm", action="append", nargs="+", default=[], metavar="KEY=VALUE",
                    help="one arm compared with the base (repeat for more)")
    ap.add_argument("--validation-only", action="store_true", help="never read the test split")
    ap.add_argument("--resume", action="store_true", help="keep the splits an earlier call with the same settings "
                    "and arms measured (bench/results/protocol_<name>.json)")
    ap.add_argument("--processes", type=int, default=1,
                    help="splits measured side by side, one thread each (a run is too small to use many threads)")
    ap.add_argument("--cache-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "tuning-bench-cache"))
    args = ap.parse_args(argv)
    if not args.arm:
        ap.error("give at least one --arm")
    seeds = [int(s) for s in args.seeds.split(",")]
    if len(seeds) < 2:
        ap.error("paired intervals need at least 2 seeds (the protocol asks for 5)")
    folders, absent = dataset_folders(args.sets.split(","), args.cache_dir)
    if not folders:
        print(f"protocol skipped: no dataset present ({', '.join(absent)})")
        return None
    bb = _backbone_of_this_process(args.backbone, args.device, threads=None)
    settings = with_overrides(GPU_SETTINGS if bb.device.type == "cuda" else CPU_SETTINGS, args.set)
    arms = {arm_label(args.base) + " (base)": with_overrides({}, args.base)}
    arms.update({arm_label(items): with_overrides({}, items) for items in args.arm})
    labels = list(arms)
    with_test = not args.validation_only
    record = {"settings": settings, "arms": arms, "backbone": args.backbone, "shots": args.shots,
              "with_test": with_test}
    saved = common.RESULTS / f"protocol_{args.name}.json"
    runs: dict = load_runs(saved, record) if args.resume else {}
    pool = f"; the runs in {args.processes} processes" if args.processes > 1 else ""
    t0, cpu0, load_start = time.perf_counter(), time.process_time(), load_line()

    def flush(done: str) -> str:
        body, verdicts = report(runs, labels, list(folders), seeds, with_test=with_test)
        text = (f"Backbone `{bb.id}`, {args.shots} shots, seeds {seeds}, device {bb.device}; sets present: "
                f"{', '.join(folders)}" + (f"; absent (skipped): {', '.join(absent)}" if absent else "")
                + f". {settings_record(settings)} Every row has the same budget. Balanced accuracy; paired "
                "differences by seed against the base with a 95% Student-t interval. The adapter of every "
                "run is chosen on validation; "
                + ("the test split is read only by this report, after the runs." if with_test else
                   "the test split was not read.")
                + f"\n\nProgress: {done}. Wall {time.perf_counter() - t0:.0f} s, CPU {time.process_time() - cpu0:.0f} s"
                f" (this process{pool}), load average (1/5/15 min) {load_start} at the start, {load_line()} now.\n\n"
                + body + "\n\n" + verdict_summary(verdicts, with_test=with_test)
                + "\n\n" + pooled(runs, labels, with_test=with_test))
        drawn = plot_intervals(runs, labels, list(folders), common.RESULTS / f"protocol_{args.name}.png",
                               with_test=with_test, title=f"Protocol: {args.name}")
        if drawn:
            text += f"\n\nThe intervals as a picture: protocol_{args.name}.png."
        written = write(f"protocol_{args.name}", f"Protocol: {args.name}", text)
        save_runs(saved, record, runs)
        return written

    splits = [(name, folder, seed) for seed in seeds for name, folder in folders.items()  # seeds outermost: a run
              if any((name, label, seed) not in runs for label in labels)]  # cut short still has every set
    per_split = dict(shots=args.shots, cache_dir=args.cache_dir, settings=settings, arms=arms, with_test=with_test)
    for name, seed, measured in measure_splits(splits, args.backbone, args.device, args.processes, **per_split):
        runs.update({(name, label, seed): m for label, m in measured.items()})
        flush(f"{name} seed {seed} done")
    return flush("complete")


if __name__ == "__main__":
    main()
