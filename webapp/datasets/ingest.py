"""The ingestion pipeline, apart from Django models: zip in, normalised images and a manifest out.

`ingest_archive` reads the upload, writes each accepted image through `save(name, image_bytes)` and
returns the manifest, class counts and validation report. It raises UploadRejected when the upload
as a whole cannot become a dataset; single bad files are kept out and listed instead.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, Callable, Iterator

from webapp.datasets.archive import ByteBudget, MemberTooLarge, index_archive, open_zip
from webapp.datasets.errors import UploadRejected, human_bytes
from webapp.datasets.images import IMAGE_SUFFIXES, ImageProblem, NormalisedImage, normalise_image
from webapp.datasets.layout import plan_layout

THUMBNAILS_PER_CLASS = 6
MAX_LISTED_SKIPPED = 500  # the report stays readable (and the row small) on a messy upload


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    max_uncompressed_bytes: int
    max_files: int
    max_image_pixels: int
    max_file_bytes: int
    threads: int = 1  # decoding threads

    @classmethod
    def from_settings(cls) -> "Limits":
        from django.conf import settings

        return cls(
            max_upload_bytes=settings.DATASET_MAX_UPLOAD_BYTES,
            max_uncompressed_bytes=settings.DATASET_MAX_UNCOMPRESSED_BYTES,
            max_files=settings.DATASET_MAX_FILES,
            max_image_pixels=settings.DATASET_MAX_IMAGE_PIXELS,
            max_file_bytes=settings.DATASET_MAX_FILE_BYTES,
            threads=settings.DATASET_INGEST_THREADS,
        )


@dataclass
class IngestResult:
    manifest: dict
    class_counts: dict[str, int]
    report: dict
    content_hash: str
    thumbnails: dict[str, bytes]  # sha256 -> small JPEG


def content_hash_of(manifest: dict) -> str:
    """sha256 over the sorted (label, image hash) pairs: equal images and labels give an equal hash,
    whatever the original file names or the order inside the zip."""
    lines = sorted(f"{f['label']}\t{f['sha256']}" for f in manifest["files"])
    payload = json.dumps({"classes": manifest["classes"], "files": lines}, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def ingest_archive(
    fileobj: BinaryIO,
    *,
    limits: Limits,
    save: Callable[[str, bytes], None],
    progress: Callable[[float], None] = lambda fraction: None,
    leave_out: frozenset[tuple[str, str]] = frozenset(),
) -> IngestResult:
    """`leave_out`: (class, image sha256) pairs marked as mislabelled in an earlier version: left out
    and listed, unless the image now sits in another class (its label was corrected)."""
    fileobj.seek(0, 2)
    size = fileobj.tell()
    if size > limits.max_upload_bytes:
        raise UploadRejected(
            f"The upload is {human_bytes(size)}, more than the limit of {human_bytes(limits.max_upload_bytes)}."
        )
    zf = open_zip(fileobj, max_files=limits.max_files)
    index = index_archive(zf, max_files=limits.max_files, max_uncompressed_bytes=limits.max_uncompressed_bytes)
    budget = ByteBudget(limits.max_uncompressed_bytes, limits.max_file_bytes)
    plan = plan_layout(zf, index, budget)
    planned_labels = {label for _, label in plan.items}
    if len(planned_labels) < 2:
        raise UploadRejected(_fewer_than_two_classes(planned_labels, plan.source))

    skipped = list(plan.skipped)
    warnings = list(plan.warnings)
    files: list[dict] = []
    seen: set[tuple[str, str]] = set()
    labels_by_hash: dict[str, set[str]] = defaultdict(set)
    first_name_by_hash: dict[str, str] = {}
    duplicates_in_class = 0
    converted: Counter = Counter()
    thumbnails: dict[str, bytes] = {}
    thumbs_by_label: dict[str, list[str]] = defaultdict(list)

    total = len(plan.items)
    decoded = _decode_in_order(zf, plan.items, budget, max_pixels=limits.max_image_pixels, threads=limits.threads)
    for done, (member, label, outcome) in enumerate(decoded, start=1):
        progress(done / total)
        if isinstance(outcome, ImageProblem):
            skipped.append({"file": member.name, "reason": str(outcome)})
            continue
        image = outcome
        if (label, image.sha256) in leave_out:
            skipped.append({"file": member.name, "reason": "marked as mislabelled in an earlier version of this "
                                                           "dataset, and still in the same class: left out"})
            continue
        if image.source_mode != "RGB":
            converted[image.source_mode] += 1
        if (label, image.sha256) in seen:
            duplicates_in_class += 1
            continue
        seen.add((label, image.sha256))
        labels_by_hash[image.sha256].add(label)
        first_name_by_hash.setdefault(image.sha256, member.name)
        path = f"{label}/{image.sha256}{image.suffix}"
        save(path, image.data)
        files.append({"path": path, "label": label, "sha256": image.sha256, "original": member.name})
        if len(thumbs_by_label[label]) < THUMBNAILS_PER_CLASS:
            thumbs_by_label[label].append(image.sha256)
            thumbnails[image.sha256] = image.thumbnail

    counts = Counter(f["label"] for f in files)
    empty = sorted(set(plan.empty_classes) | (planned_labels - set(counts)))
    if empty:
        names = ", ".join(repr(c) for c in empty)
        one = len(empty) == 1
        raise UploadRejected(
            f"{'Class' if one else 'Classes'} {names} {'has' if one else 'have'} no usable images. Every class "
            "needs images: add some, or remove the empty folder."
            + (" The report lists the files that were kept out and why." if skipped else ""),
            skipped=skipped[:MAX_LISTED_SKIPPED],
        )
    if len(counts) < 2:
        raise UploadRejected(_fewer_than_two_classes(set(counts), plan.source), skipped=skipped[:MAX_LISTED_SKIPPED])

    if duplicates_in_class:
        warnings.append(f"{duplicates_in_class} duplicate image(s) inside the same class were kept only once.")
    for sha, labels in sorted(labels_by_hash.items()):
        if len(labels) > 1:
            classes = ", ".join(repr(x) for x in sorted(labels))
            warnings.append(
                f"The same image ({first_name_by_hash[sha]!r}) is in several classes: {classes}. "
                "Check its label; the same picture with two labels confuses training."
            )

    classes = sorted(counts)
    files.sort(key=lambda f: (f["label"], f["sha256"]))
    manifest = {"classes": classes, "files": files}
    report = {
        "errors": [],
        "warnings": warnings,
        "skipped": skipped[:MAX_LISTED_SKIPPED],
        "skipped_total": len(skipped),
        "converted": dict(converted),
        "source": plan.source,
        "files_in_zip": len(index.members),
        "unpacked_bytes": budget.used,
        "thumbnails": {label: thumbs_by_label[label] for label in classes},
    }
    return IngestResult(
        manifest=manifest,
        class_counts={label: counts[label] for label in classes},
        report=report,
        content_hash=content_hash_of(manifest),
        thumbnails=thumbnails,
    )


def _normalise_or_problem(data: bytes, name: str, max_pixels: int) -> NormalisedImage | ImageProblem:
    looks_like_image = PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES
    try:
        return normalise_image(data, max_pixels=max_pixels, name_looks_like_image=looks_like_image)
    except ImageProblem as problem:
        return problem


def _decode_in_order(zf, items, budget: ByteBudget, *, max_pixels: int, threads: int) -> Iterator:
    """Yield (member, label, NormalisedImage | ImageProblem) in plan order. Reading the zip stays on
    this thread (the byte budget is counted in one place); decoding and PNG encoding, which release
    the GIL in Pillow, run on a few threads. At most 2 x threads images (compressed) are held in memory."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending: deque = deque()
        for member, label in items:
            try:
                data = budget.read_member(zf, member)
            except MemberTooLarge as too_large:  # kept out like an image over the pixel limit, in its place
                pending.append((member, label, pool.submit(ImageProblem, too_large.message)))
            else:
                pending.append((member, label, pool.submit(_normalise_or_problem, data, member.name, max_pixels)))
            if len(pending) >= 2 * max(1, threads):
                m, lab, future = pending.popleft()
                yield m, lab, future.result()
        while pending:
            m, lab, future = pending.popleft()
            yield m, lab, future.result()


def _fewer_than_two_classes(labels: set[str], source: str) -> str:
    found = f"only the class {next(iter(labels))!r}" if len(labels) == 1 else "no class"
    how = (
        "a CSV whose label column names at least two classes"
        if source == "csv"
        else "one folder per class, for example scratches/ and no_defect/, each with its images"
    )
    return f"A dataset needs at least 2 classes, and this zip has {found}. Upload a zip with {how}."
