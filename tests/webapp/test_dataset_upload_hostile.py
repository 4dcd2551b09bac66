"""Hostile and broken uploads: each is refused (or the bad file kept out) with a specific message,
and nothing is ever written outside the media folder."""

import io
import struct
import zipfile

import pytest
from django.core.files.storage import default_storage

from tests.webapp.dataset_builders import (
    class_images,
    good_zip,
    huge_png_header,
    jpeg_bytes,
    make_zip,
    png_bytes,
    zip_with_symlink,
)
from tests.webapp.dataset_fixtures import files_outside_media, media, version_with_upload  # noqa: F401
from webapp.datasets.models import DatasetVersion
from webapp.datasets.services import dataset_version_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingest(make_user, media, tmp_path):  # noqa: F811
    user = make_user("eng", workspace="Plant A")

    def run(data: bytes) -> DatasetVersion:
        version = version_with_upload(user=user, workspace_name="Plant A", data=data)
        result = dataset_version_ingest(version_id=version.pk)
        assert files_outside_media(tmp_path) == [], "a file was written outside MEDIA_ROOT"
        return result

    return run


def assert_rejected(version: DatasetVersion, *phrases: str) -> None:
    assert version.status == DatasetVersion.Status.FAILED, version.report
    for phrase in phrases:
        assert phrase in version.error, version.error
    assert version.error in version.report["errors"]
    # A rejected version leaves no images behind in storage either.
    assert stored_files(f"datasets/{version.pk}") == []


def stored_files(prefix: str) -> list[str]:
    if not default_storage.exists(prefix):
        return []
    dirs, files = default_storage.listdir(prefix)
    return [f"{prefix}/{f}" for f in files] + [x for d in dirs for x in stored_files(f"{prefix}/{d}")]


def test_not_a_zip(ingest):
    assert_rejected(ingest(b"just some text, certainly not a zip archive"), "not a zip archive")


def test_corrupt_zip_cut_short(ingest):
    data = good_zip()
    assert_rejected(ingest(data[: len(data) // 2]), "damaged")


@pytest.mark.parametrize("evil", ["../../../../outside/pwned.png", "scratches/../../../../outside/pwned.png",
                                  "..\\..\\..\\..\\outside\\pwned.png"])
def test_zip_slip_is_refused_and_nothing_escapes(ingest, tmp_path, evil):
    entries = class_images({"scratches": 3, "no_defect": 3})
    entries[evil] = png_bytes()
    version = ingest(make_zip(entries))
    assert_rejected(version, "points outside the archive")
    assert list((tmp_path / "outside").iterdir()) == []


def test_absolute_path_is_refused(ingest):
    entries = class_images({"scratches": 3, "no_defect": 3})
    entries["/tmp/pwned.png"] = png_bytes()
    assert_rejected(ingest(make_zip(entries)), "absolute path")


def test_symlink_entry_is_refused(ingest):
    data = zip_with_symlink(class_images({"scratches": 3, "no_defect": 3}), "scratches/link.png", "/etc/passwd")
    assert_rejected(ingest(data), "symbolic link")


def test_zip_bomb_over_the_uncompressed_limit_is_refused_before_extracting(ingest, settings):
    settings.DATASET_MAX_UNCOMPRESSED_BYTES = 2 * 1024 * 1024
    entries = class_images({"scratches": 3, "no_defect": 3})
    entries["scratches/bomb.png"] = b"\0" * (8 * 1024 * 1024)  # 8 MB of zeros: ~8 KB compressed
    data = make_zip(entries)
    assert len(data) < 100_000  # a high compression ratio: that is what makes it a bomb
    assert_rejected(ingest(data), "more than 2.0 MB")


def test_zip_whose_headers_lie_about_sizes_is_refused(ingest, settings):
    """The directory claims 100 bytes; the stream inflates to 4 MB. Reading stops, nothing is kept."""
    settings.DATASET_MAX_UNCOMPRESSED_BYTES = 1024 * 1024
    entries = class_images({"scratches": 3, "no_defect": 3})
    entries["scratches/liar.png"] = b"\0" * (4 * 1024 * 1024)
    raw = bytearray(make_zip(entries))
    # Patch the declared uncompressed size of the liar in the central directory and its local header.
    name = b"scratches/liar.png"
    cd = raw.find(b"PK\x01\x02")
    while raw[cd + 46: cd + 46 + len(name)] != name:
        cd = raw.find(b"PK\x01\x02", cd + 4)
    struct.pack_into("<I", raw, cd + 24, 100)
    local = struct.unpack_from("<I", raw, cd + 42)[0]
    struct.pack_into("<I", raw, local + 22, 100)
    version = ingest(bytes(raw))
    assert_rejected(version, "liar.png")


def test_too_many_files_is_refused(ingest, settings):
    settings.DATASET_MAX_FILES = 5
    assert_rejected(ingest(good_zip({"scratches": 3, "no_defect": 3})), "more than 5 files")


def test_zip_declaring_huge_numbers_of_entries_is_refused_before_listing_them(ingest, settings):
    settings.DATASET_MAX_FILES = 5
    entries = {f"a/{i}.txt": b"" for i in range(300)}  # tiny, but far more entries than allowed
    assert_rejected(ingest(make_zip(entries)), "300 entries, far more than the 5 files")


def test_upload_over_size_limit_is_refused_by_the_worker_too(ingest, settings):
    data = good_zip()
    settings.DATASET_MAX_UPLOAD_BYTES = len(data) - 1
    assert_rejected(ingest(data), "more than the limit")


def test_non_image_truncated_jpeg_and_pixel_bomb_are_kept_out_and_listed(ingest):
    entries = class_images({"scratches": 3, "no_defect": 3})
    entries["scratches/notes.txt"] = b"operator notes, not an image"
    whole = jpeg_bytes(999, size=(64, 64))
    entries["scratches/cut.jpg"] = whole[: len(whole) // 2]  # header intact, image data cut off
    entries["no_defect/bomb.png"] = huge_png_header()
    version = ingest(make_zip(entries))
    assert version.status == DatasetVersion.Status.READY, version.error
    reasons = {s["file"]: s["reason"] for s in version.report["skipped"]}
    assert reasons["scratches/notes.txt"] == "not an image file"
    assert "damaged or cut short" in reasons["scratches/cut.jpg"]
    assert "10,000,000,000 pixels, more than the limit of 40,000,000" in reasons["no_defect/bomb.png"]
    assert version.class_counts == {"no_defect": 3, "scratches": 3}
    originals = {f["original"] for f in version.manifest["files"]}
    assert not originals & set(reasons)


def test_image_just_over_the_pixel_limit_is_kept_out_with_its_size(ingest, settings):
    settings.DATASET_MAX_IMAGE_PIXELS = 100
    entries = class_images({"scratches": 3, "no_defect": 3}, )  # 16 x 16 = 256 pixels each
    entries["scratches/tiny.png"] = png_bytes(size=(10, 10))
    version = ingest(make_zip(entries))
    assert version.status == DatasetVersion.Status.FAILED  # every other image is too large now
    assert {"file": "scratches/img_000.jpg",
            "reason": "the image is 16 x 16 pixels, more than the limit of 100 pixels"} in version.report["skipped"]
    assert "'no_defect' has no usable images" in version.error


def test_one_class_is_refused(ingest):
    assert_rejected(ingest(good_zip({"scratches": 5})), "at least 2 classes", "only the class 'scratches'")


def test_empty_class_folder_is_refused(ingest):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in class_images({"scratches": 3, "no_defect": 3}).items():
            zf.writestr(name, data)
        zf.writestr("inclusions/", b"")
    assert_rejected(ingest(buf.getvalue()), "'inclusions' has no usable images")


def test_class_whose_files_all_fail_is_refused_and_report_lists_them(ingest):
    entries = class_images({"scratches": 3, "no_defect": 3})
    entries["pitted/readme.txt"] = b"no images here"
    version = ingest(make_zip(entries))
    assert_rejected(version, "'pitted' has no usable images")
    assert version.report["skipped"] == [{"file": "pitted/readme.txt", "reason": "not an image file"}]


def test_password_protected_entry_is_refused(ingest):
    raw = bytearray(good_zip())
    cd = raw.find(b"PK\x01\x02")
    flags = struct.unpack_from("<H", raw, cd + 8)[0]
    struct.pack_into("<H", raw, cd + 8, flags | 0x1)
    assert_rejected(ingest(bytes(raw)), "password-protected")


@pytest.mark.parametrize("label", ["a\\b", "bad\x07bell", "..", ""])
def test_bad_class_labels_in_csv_are_refused(ingest, label):
    entries = {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2), "c.jpg": jpeg_bytes(3)}
    entries["labels.csv"] = f"filename,label\na.jpg,{label}\nb.jpg,good\nc.jpg,good\n".encode()
    version = ingest(make_zip(entries))
    assert version.status == DatasetVersion.Status.FAILED
    assert "class name" in version.error


def test_slash_in_csv_label_is_refused(ingest):
    entries = {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2)}
    entries["labels.csv"] = b"filename,label\na.jpg,rolled/in\nb.jpg,good\n"
    assert_rejected(ingest(make_zip(entries)), "may not contain '/'")


def test_classes_differing_only_in_case_are_refused(ingest):
    assert_rejected(ingest(good_zip({"Scratches": 3, "scratches": 3})), "differ only in upper/lower case")


def test_one_huge_file_is_kept_out_without_being_held_in_memory(ingest, settings):
    """64 MB of zeros in a small zip: ingestion reads no more of it than DATASET_MAX_FILE_BYTES, lists
    it as kept out and imports the rest."""
    import tracemalloc

    settings.DATASET_MAX_FILE_BYTES = 1024 * 1024
    entries = class_images({"scratches": 3, "no_defect": 3})
    entries["scratches/huge.png"] = b"\0" * (64 * 1024 * 1024)
    data = make_zip(entries)
    del entries
    tracemalloc.start()
    try:
        version = ingest(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert version.status == DatasetVersion.Status.READY, version.error
    assert [s for s in version.report["skipped"] if s["file"].endswith("huge.png")][0]["reason"].endswith(
        "unpacks to more than 1.0 MB, the most one file of a dataset may take")
    assert peak < 16 * 1024 * 1024, f"ingestion held {peak / 2**20:.0f} MB"


@pytest.mark.parametrize("name, words", [
    pytest.param("\U0001F600" * 100, "at most 100 characters and 200 bytes", id="100-emoji"),  # 400 bytes
    ("CON", "cannot be a folder name on Windows"),
    ("aux.txt", "cannot be a folder name on Windows"),
    ("scratch*?<>|", "cannot be a folder name on Windows"),
    ("dent.", "cannot be a folder name on Windows"),
])
def test_class_names_that_cannot_be_folder_names_everywhere_are_refused(ingest, name, words):
    entries = class_images({"no_defect": 3})
    entries.update({f"{name}/{i}.png": png_bytes((10 * i, 0, 0)) for i in range(3)})
    assert_rejected(ingest(make_zip(entries)), words)


def test_one_name_in_two_unicode_forms_is_refused_like_two_cases():
    """'café' typed on macOS (NFD) and on Windows (NFC) are two folders that look the same: refused,
    as 'Dent' and 'dent' are, instead of merged without a word."""
    import unicodedata

    from webapp.datasets.errors import UploadRejected
    from webapp.datasets.layout import _check_distinct

    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    for pair in ({nfc, nfd}, {"Dent", "dent"}):
        with pytest.raises(UploadRejected, match="differ only in upper/lower case or in how an accent is encoded"):
            _check_distinct(pair)


def test_one_name_in_two_unicode_forms_in_a_zip_is_refused(ingest):
    import unicodedata

    entries = {f"{unicodedata.normalize(form, 'café')}/{form}{i}.png": png_bytes((40 * i, 9, 9))
               for form in ("NFC", "NFD") for i in range(3)}
    entries.update(class_images({"no_defect": 3}))
    assert_rejected(ingest(make_zip(entries)), "in how an accent is encoded")


def test_a_semicolon_csv_is_read_as_excel_writes_it(ingest):
    entries = {f"imgs/{i}.png": png_bytes((30 * i, 50, 50)) for i in range(6)}
    entries["labels.csv"] = ("filename;label\n" + "".join(
        f"imgs/{i}.png;{'dent' if i < 3 else 'ok'}\n" for i in range(6))).encode()
    version = ingest(make_zip(entries))
    assert version.status == DatasetVersion.Status.READY, version.error
    assert version.class_counts == {"dent": 3, "ok": 3}
