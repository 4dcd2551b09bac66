"""Adapters, backbones and evaluations on a worker. torch comes with them, so each function imports the
heavy tuner modules when called; a web process never calls these."""
from __future__ import annotations

from pathlib import Path

from tuning.card import AdapterCard


def load_adapter(directory: Path):
    """tuning.Adapter of a folder (never unpickles; tuning.AdapterError in plain words when it is damaged)."""
    from tuning.adapter import load_adapter as load

    return load(directory)


def read_adapter_card(directory: Path) -> AdapterCard:
    """The card of an adapter folder once tuning.load_adapter accepted the whole folder (tensors included)."""
    return load_adapter(directory).about


def load_backbone(backbone_id: str, device: str = "auto"):
    """The backbone, cached per process (tuning.load_backbone)."""
    from tuning.backbones.loader import load_backbone as load

    return load(backbone_id, device=device)


def check_compatible(adapter, backbone) -> None:
    from tuning.adapter import check_compatible as check

    check(adapter, backbone)


def check_backbone_fit(adapter, backbone) -> None:
    """tuning's check that the adapter's change of the backbone fits the loaded backbone (AdapterError in words)."""
    from tuning.adapter import check_backbone_fit as check

    check(adapter, backbone)


def predict(adapter, backbone, images) -> list:
    from tuning.adapter import predict as run

    return run(adapter, backbone, images)


def load_image_folder(root: Path, **kwargs):
    from tuning.data import load_image_folder as load

    return load(root, **kwargs)


def all_images(data):
    """One split with every image of load_image_folder's data: train, validation and test together."""
    import torch

    from tuning.data import Split

    parts = (data.train, data.val, data.test)
    return Split(torch.cat([p.features for p in parts]), torch.cat([p.labels for p in parts]),
                 [path for p in parts for path in p.paths])


def evaluate(backbone, split, **kwargs):
    """tuning.evaluate: an Evaluation, whose `to_record()` is what the web stores."""
    from tuning.evaluation import evaluate as run

    return run(backbone, split, **kwargs)


def write_demo_dataset(folder: Path, *, zip_path: Path):
    """The demo image set (the package conformal-clip-data; ImportError when it is not installed)."""
    from tuning.demo_backbone.demo_data import write_demo_dataset as write

    return write(folder, zip_path=zip_path)
