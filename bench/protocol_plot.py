"""The protocol's intervals as a picture: per arm, each set's and the pooled mean difference against the base
with its 95% interval, validation beside test; green where the arm helps, red where it hurts, grey where the
interval straddles 0 (no measurable effect).

`python -m bench protocol` draws it beside its table (bench/results/protocol_<name>.png); for a result file
written before it did: `python -m bench.protocol_plot bench/results/protocol_<name>.json`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def interval_rows(runs: dict, labels: list[str], sets: list[str], splits: tuple[str, ...]) -> list[tuple]:
    """[(arm, set or 'pooled', {split: (mean, low, high) in points})] for every arm with 2 or more pairs."""
    from .protocol import paired_interval
    base, rows = labels[0], []
    for label in labels[1:]:
        for where in [*sets, "pooled"]:
            keys = [k for k in runs if k[1] == label and where in (k[0], "pooled") and (k[0], base, k[2]) in runs]
            if len(keys) < 2:
                continue
            rows.append((label, where, {split: tuple(100 * v for v in paired_interval(
                [getattr(runs[(k[0], base, k[2])], split) for k in keys], [getattr(runs[k], split) for k in keys]))
                for split in splits}))
    return rows


def plot_intervals(runs: dict, labels: list[str], sets: list[str], path: Path, *, with_test: bool,
                   title: str) -> bool:
    """Draws the picture at `path`; False (nothing drawn) while no arm has two pairs."""
    splits = ("val", "test") if with_test else ("val",)
    rows = interval_rows(runs, labels, sets, splits)
    if not rows:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(splits), figsize=(5.5 * len(splits), 0.3 * len(rows) + 1.6), sharey=True,
                             squeeze=False)
    ys = list(range(len(rows)))[::-1]
    for ax, split in zip(axes[0], splits):
        for y, (_, where, got) in zip(ys, rows):
            mean, low, high = got[split]
            colour = "tab:green" if low > 0 else "tab:red" if high < 0 else "grey"
            ax.errorbar(mean, y, xerr=[[mean - low], [high - mean]], fmt="D" if where == "pooled" else "o",
                        color=colour, capsize=2, markersize=6 if where == "pooled" else 4)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(("validation" if split == "val" else "test") + ": arm - base, points (95% interval)")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(ys, [f"{label} | {where}" for label, where, _ in rows])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv=None) -> None:
    from .protocol import runs_of
    path = Path((argv or sys.argv[1:])[0])
    saved = json.loads(path.read_text())
    runs = runs_of(saved)
    sets = list(dict.fromkeys(r["set"] for r in saved["runs"]))
    plot_intervals(runs, list(saved["arms"]), sets, path.with_suffix(".png"), with_test=saved["with_test"],
                   title=f"Protocol: {path.stem.removeprefix('protocol_')}")


if __name__ == "__main__":
    main()
