"""Running the tuner on a worker: `tune` with the job's callbacks, and the adapter it returns saved to a
folder. torch comes with them, so each imports the tuner when called; a web process never calls these."""
from __future__ import annotations

from pathlib import Path


def tune(config, data, **options):
    """tuning.tune: options are its keyword arguments (on_metrics, should_stop, checkpoint, backbone)."""
    from tuning.tuner import tune as run

    return run(config, data, **options)


def save_adapter(adapter, directory: Path) -> None:
    from tuning.adapter import save_adapter as save

    save(adapter, directory)
