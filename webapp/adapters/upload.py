"""Check an adapter brought back from another site before anything is stored.

Accepted: the archive this dashboard offers for download (a zip holding adapter.safetensors and
adapter.json, a README beside them is ignored), or the two files on their own. Checked: sizes,
the format (by `tuning.load_adapter`, which never unpickles), the backbone, and the class names
against the dataset version it is to be evaluated on. Every refusal says what to do. `adapter_version_upload`
is the whole flow; the view only parses the form and renders.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from django.conf import settings

from webapp.adapters import services
from webapp.adapters.evaluation import class_mismatch_message
from webapp.adapters.files import CARD_NAME, WEIGHTS_NAME
from webapp.adapters.models import AdapterVersion
from webapp.datasets.models import DatasetVersion
from webapp.integrations.backbones import installed_backbone
from webapp.integrations.tuning import AdapterCard, AdapterError, TuningError, backbone_for_card, parse_backbone_id
from webapp.integrations.tuning.adapters import read_adapter_card


class AdapterUploadRejected(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _human(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def _read_limited(handle, name: str, limit: int) -> bytes:
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise AdapterUploadRejected(f"{name} is larger than the limit of {_human(limit)}; adapters are usually "
                                    "a few kilobytes. Is this the right file?")
    return data


def _from_archive(upload, limit: int) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError):
        raise AdapterUploadRejected("This file is not a zip archive. Upload the .zip downloaded from an adapter "
                                    "version, or the two files adapter.safetensors and adapter.json.") from None
    found: dict[str, list[zipfile.ZipInfo]] = {WEIGHTS_NAME: [], CARD_NAME: []}
    with zf:
        for info in zf.infolist():
            base = PurePosixPath(info.filename.replace("\\", "/")).name
            if not info.is_dir() and base in found:
                found[base].append(info)
        for name, infos in found.items():
            if not infos:
                raise AdapterUploadRejected(f"The zip has no {name}. An adapter archive holds adapter.safetensors "
                                            "and adapter.json (as downloaded from an adapter version).")
            if len(infos) > 1:
                raise AdapterUploadRejected(f"The zip holds {len(infos)} files named {name}; put one adapter in it.")
        out = {}
        for name, (info,) in found.items():
            if info.file_size > limit:  # declared size: refuse before inflating anything
                raise AdapterUploadRejected(f"{name} in the zip unpacks to {_human(info.file_size)}, more than the "
                                            f"limit of {_human(limit)}.")
            try:
                with zf.open(info) as handle:
                    out[name] = _read_limited(handle, name, limit)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError):
                raise AdapterUploadRejected(f"{name} in the zip is damaged or encrypted; download it again.") from None
        return out


def unpack_upload(*, archive=None, weights=None, card=None, directory: Path) -> AdapterCard:
    """Write the uploaded adapter into `directory` and return its card, or raise AdapterUploadRejected."""
    limit = settings.ADAPTER_MAX_UPLOAD_BYTES
    if archive is not None:
        contents = _from_archive(archive, limit)
    elif weights is not None and card is not None:
        contents = {WEIGHTS_NAME: _read_limited(weights, WEIGHTS_NAME, limit),
                    CARD_NAME: _read_limited(card, CARD_NAME, limit)}
    else:
        raise AdapterUploadRejected("Choose the adapter archive (.zip), or both adapter.safetensors and adapter.json.")
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (directory / name).write_bytes(data)
    try:
        card = read_adapter_card(directory)
    except AdapterError as exc:
        raise AdapterUploadRejected(without_server_paths(str(exc), directory)) from None
    check_card_fields(card)
    return card


def without_server_paths(message: str, directory: Path) -> str:
    """The tuner names the files it read (useful on a line PC); here they sit in a temporary folder of the
    server, which is nobody's business: name the file alone."""
    for folder in (directory, directory.parent):
        message = message.replace(f"{folder}/", "").replace(str(folder), "the upload")
    return message


def _field_limit(name: str) -> int:
    return AdapterVersion._meta.get_field(name).max_length


def check_card_fields(card: AdapterCard) -> None:
    """What we store from a card must fit our columns; the card comes from anyone's editor."""
    for key, column in (("backbone_id", "backbone"), ("method", "method"), ("backbone_sha256", "backbone_sha256")):
        value = getattr(card, key)
        if not isinstance(value, str) or len(value) > _field_limit(column) or (key == "backbone_id" and not value):
            raise AdapterUploadRejected(f"adapter.json: '{key}' must be text of at most {_field_limit(column)} "
                                        "characters. Was the card edited by hand?")
    names = card.class_names
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise AdapterUploadRejected("adapter.json: 'class_names' must be a list of class names (text). "
                                    "Was the card edited by hand?")


def check_backbone(card: AdapterCard, *, workspace) -> str:
    """The id of the backbone this installation will evaluate the adapter with: one it runs (see
    installed_backbone); when we already hold adapters tuned on a backbone of that id, the weights
    (sha256) must be the same ones. The worker checks again with the loaded backbone before
    evaluating (tuning.check_compatible).

    A demo adapter's id is read through its sha256 first: one made on the first demo backbone says
    "demo" but is a "demo-v1" adapter, and is compared with (and stored as) those."""
    want_sha = card.backbone_sha256
    try:
        want_id = backbone_for_card(card.backbone_id, want_sha)
    except TuningError as exc:  # a demo adapter whose weights this installation lacks: the message names them
        raise AdapterUploadRejected(str(exc)) from None
    known = (
        AdapterVersion.objects.filter(model_line__workspace=workspace, backbone=want_id, source="job")
        .exclude(backbone_sha256="")
        .values_list("backbone_sha256", flat=True)
        .first()
    )
    if known and want_sha and known != want_sha:
        raise AdapterUploadRejected(
            f"This adapter was tuned on backbone '{want_id}' with other weights (sha256 {str(want_sha)[:12]}...) "
            f"than the '{want_id}' used here (sha256 {known[:12]}...). An adapter only works with the exact "
            "weights it was tuned on.")
    installed = installed_backbone(want_id, want_sha)
    if installed is None:
        # The card's id may hold a path: name only an architecture, never a file or its contents.
        arch = parse_backbone_id(want_id).without_path
        named = f"backbone '{arch}'" if re.fullmatch(r"[\w.:+-]{1,100}", arch) else "a backbone"
        raise AdapterUploadRejected(
            f"This adapter was tuned on {named}, which this installation does not "
            "have. Ask your administrator to install that backbone (or list its checkpoint in "
            "TUNING_LOCAL_CHECKPOINTS) first.")
    return installed


def check_classes(card: AdapterCard, *, dataset_version: DatasetVersion) -> None:
    adapter_classes = list(card.class_names or [])
    dataset_classes = list((dataset_version.class_counts or {}).keys())
    if set(adapter_classes) != set(dataset_classes):
        raise AdapterUploadRejected(class_mismatch_message(adapter_classes, dataset_classes))


def adapter_version_upload(*, user, workspace, model_line_name: str, dataset_version: DatasetVersion, note: str = "",
                   archive=None, weights=None, card=None) -> AdapterVersion:
    """Check an uploaded adapter (the zip, or its two files), store it as the next version of the model
    line and queue its evaluation on `dataset_version`; AdapterUploadRejected says what is wrong."""
    with tempfile.TemporaryDirectory(prefix="adapter-upload-") as tmp:
        adapter_dir = Path(tmp) / "adapter"
        card = unpack_upload(archive=archive, weights=weights, card=card, directory=adapter_dir)
        backbone = check_backbone(card, workspace=workspace)
        check_classes(card, dataset_version=dataset_version)
        return services.adapter_version_create_from_upload(
            user=user, workspace=workspace, model_line_name=model_line_name, adapter_dir=adapter_dir,
            dataset_version=dataset_version, note=note, backbone=backbone,
        )
