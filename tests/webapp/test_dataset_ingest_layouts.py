"""What a good upload becomes: classes from folders or a CSV, OS junk ignored, images converted to
8-bit RGB PNG, duplicates handled, and the manifest / storage layout the worker relies on."""

import hashlib
import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from tests.webapp.dataset_builders import class_images, gray16_png, jpeg_bytes, make_zip, png_bytes
from tests.webapp.dataset_fixtures import files_outside_media, media, version_with_upload  # noqa: F401
from webapp.datasets.ingest import content_hash_of
from webapp.datasets.models import DatasetVersion
from webapp.datasets.services import dataset_version_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingest(make_user, media, tmp_path):  # noqa: F811
    user = make_user("eng", workspace="Plant A")

    def run(data: bytes, name: str = "Parts") -> DatasetVersion:
        version = version_with_upload(user=user, workspace_name="Plant A", data=data, name=name)
        result = dataset_version_ingest(version_id=version.pk)
        assert files_outside_media(tmp_path) == []
        return result

    return run


def stored_image(version, entry) -> Image.Image:
    with default_storage.open(f"{version.root}/{entry['path']}", "rb") as f:
        data = f.read()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    return Image.open(io.BytesIO(data))


def test_folder_layout_gives_manifest_counts_and_storage_layout(ingest):
    version = ingest(make_zip(class_images({"rolled-in_scale": 3, "crazing": 4})))
    assert version.status == DatasetVersion.Status.READY
    assert version.class_counts == {"crazing": 4, "rolled-in_scale": 3}
    assert version.manifest["classes"] == ["crazing", "rolled-in_scale"]
    assert version.root == f"datasets/{version.pk}/images"
    assert len(version.manifest["files"]) == 7
    for entry in version.manifest["files"]:
        assert entry["path"] == f"{entry['label']}/{entry['sha256']}.jpg"  # 8-bit RGB JPEGs are kept as they are
        assert entry["original"].startswith(entry["label"] + "/")
        assert stored_image(version, entry).format == "JPEG"
    assert version.content_hash == content_hash_of(version.manifest)
    assert version.progress == 1.0


def test_wrapper_folder_is_stripped_and_os_junk_ignored_silently(ingest):
    entries = class_images({"scratches": 2, "no_defect": 2}, prefix="my dataset/")
    entries["__MACOSX/my dataset/scratches/._img_000.jpg"] = b"resource fork"
    entries["my dataset/scratches/.DS_Store"] = b"junk"
    entries["my dataset/no_defect/Thumbs.db"] = b"junk"
    entries["my dataset/README.txt"] = b"taken on line 3"
    version = ingest(make_zip(entries))
    assert version.class_counts == {"no_defect": 2, "scratches": 2}
    assert version.report["skipped"] == [{"file": "my dataset/README.txt", "reason": "not inside a class folder"}]


def test_csv_layout_with_unlisted_and_missing_files(ingest):
    entries = {f"imgs/{i}.jpg": jpeg_bytes(i) for i in range(6)}
    entries["imgs/extra.jpg"] = jpeg_bytes(99)
    entries["labels.csv"] = ("filename,label\n" + "".join(
        f"imgs/{i}.jpg,{'good' if i % 2 else 'dent'}\n" for i in range(6)) + "imgs/gone.jpg,dent\n").encode()
    version = ingest(make_zip(entries))
    assert version.status == DatasetVersion.Status.READY, version.error
    assert version.class_counts == {"dent": 3, "good": 3}
    assert version.report["source"] == "csv"
    assert {"file": "imgs/extra.jpg", "reason": "not listed in the CSV"} in version.report["skipped"]
    assert any("'imgs/gone.jpg'" in w for w in version.report["warnings"])


def test_duplicates_across_classes_warn_and_within_a_class_are_kept_once(ingest):
    entries = class_images({"scratches": 3, "no_defect": 3})
    entries["no_defect/copy_of_scratch.jpg"] = entries["scratches/img_000.jpg"]
    entries["scratches/again.jpg"] = entries["scratches/img_001.jpg"]
    version = ingest(make_zip(entries))
    assert version.class_counts == {"no_defect": 4, "scratches": 3}
    warnings = " ".join(version.report["warnings"])
    assert "is in several classes: 'no_defect', 'scratches'" in warnings
    assert "1 duplicate image(s) inside the same class" in warnings


def test_grayscale_rgba_16bit_cmyk_palette_and_odd_sizes_become_8bit_rgb_png(ingest):
    rgba = io.BytesIO()
    Image.new("RGBA", (5, 3), (255, 0, 0, 0)).save(rgba, format="PNG")  # fully transparent red
    palette = Image.new("P", (7, 1))
    palette.putpalette([0, 0, 255] * 256)
    pal = io.BytesIO()
    palette.save(pal, format="GIF")
    entries = {
        "a/gray.png": png_bytes(color=128, size=(1, 1), mode="L"),
        "a/rgba.png": rgba.getvalue(),
        "a/gray16.png": gray16_png(),
        "b/cmyk.jpg": jpeg_bytes(5, mode="CMYK"),
        "b/palette.gif": pal.getvalue(),
        "b/wide.jpg": jpeg_bytes(6, size=(333, 7)),
    }
    version = ingest(make_zip(entries))
    assert version.status == DatasetVersion.Status.READY, version.error
    by_original = {e["original"]: stored_image(version, e) for e in version.manifest["files"]}
    for name, img in by_original.items():
        assert img.mode == "RGB", name
        assert np.asarray(img).dtype == np.uint8
    assert by_original["a/rgba.png"].getpixel((0, 0)) == (255, 255, 255)  # transparent shows as white
    assert by_original["a/gray.png"].getpixel((0, 0)) == (128, 128, 128)
    g16 = np.asarray(by_original["a/gray16.png"])
    assert g16.max() > 200 and g16.min() == 0  # contrast kept, not clipped to black
    assert by_original["b/palette.gif"].getpixel((0, 0)) == (0, 0, 255)
    assert by_original["b/wide.jpg"].size == (333, 7)
    converted = version.report["converted"]
    assert converted["L"] == 1 and converted["RGBA"] == 1 and converted["CMYK"] == 1
    assert {"I;16", "I"} & set(converted)


def test_content_hash_ignores_file_names_and_order_but_not_labels(ingest):
    first = class_images({"scratches": 2, "no_defect": 2})
    renamed = {name.replace("img_", "photo-"): data for name, data in reversed(list(first.items()))}
    relabelled = {name.replace("scratches", "pits"): data for name, data in first.items()}
    a, b, c = ingest(make_zip(first), "A"), ingest(make_zip(renamed), "B"), ingest(make_zip(relabelled), "C")
    assert a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash


def test_thumbnails_are_made_for_a_few_images_per_class(ingest):
    version = ingest(make_zip(class_images({"scratches": 8, "no_defect": 2})))
    thumbs = version.report["thumbnails"]
    assert len(thumbs["scratches"]) == 6 and len(thumbs["no_defect"]) == 2
    for sha in thumbs["scratches"]:
        assert default_storage.exists(f"datasets/{version.pk}/thumbs/{sha}.jpg")


def test_8bit_rgb_jpeg_and_png_keep_their_bytes_others_become_png(ingest):
    """Re-encoding an image that already is what the tuner reads only costs time: such a file is decoded
    in full to check it, then stored byte for byte, under the sha256 of those bytes."""
    rgb_png, rgb_jpeg = png_bytes(color=(10, 200, 30), size=(20, 20)), jpeg_bytes(5, size=(24, 24))
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: turn 90 degrees to show upright
    Image.open(io.BytesIO(jpeg_bytes(6, size=(24, 12)))).save(rotated, format="JPEG", exif=exif)
    entries = {"a/rgb.png": rgb_png, "a/rgb.jpg": rgb_jpeg, "a/cmyk.jpg": jpeg_bytes(7, mode="CMYK"),
               "b/gray.jpg": jpeg_bytes(8, mode="L"), "b/rotated.jpg": rotated.getvalue(),
               "b/gray16.png": gray16_png()}
    version = ingest(make_zip(entries))
    by_original = {e["original"]: e for e in version.manifest["files"]}
    for name in ("a/rgb.png", "a/rgb.jpg"):
        entry = by_original[name]
        assert entry["sha256"] == hashlib.sha256(entries[name]).hexdigest()
        assert entry["path"].endswith(name[-4:])
        with default_storage.open(f"{version.root}/{entry['path']}", "rb") as f:
            assert f.read() == entries[name]
    for name in ("a/cmyk.jpg", "b/gray.jpg", "b/rotated.jpg", "b/gray16.png"):
        image = stored_image(version, by_original[name])
        assert by_original[name]["path"].endswith(".png") and image.format == "PNG" and image.mode == "RGB"
    assert stored_image(version, by_original["b/rotated.jpg"]).size == (12, 24)  # stored upright


def test_a_cut_short_jpeg_is_kept_out_not_stored(ingest):
    entries = class_images({"scratches": 2, "no_defect": 2})
    whole = jpeg_bytes(9, size=(64, 64))
    entries["scratches/cut.jpg"] = whole[: len(whole) * 2 // 3]
    version = ingest(make_zip(entries))
    assert [s["file"] for s in version.report["skipped"]] == ["scratches/cut.jpg"]
    assert version.class_counts == {"no_defect": 2, "scratches": 2}
