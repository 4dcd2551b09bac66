"""The demo dataset writer: one folder per class plus a zip with the same files."""
import zipfile

from tuning.demo_backbone import demo_data


def test_writes_folder_and_zip(tmp_path):
    folder, zip_path = demo_data.write_demo_dataset(tmp_path / "textile", per_class=3)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert classes == ["global_defect", "local_defect", "nominal"]
    files = sorted(f"{c}/{p.name}" for c in classes for p in (folder / c).iterdir())
    assert len(files) == 9
    with zipfile.ZipFile(zip_path) as z:
        assert sorted(z.namelist()) == files


def test_selection_is_seeded_and_disjoint_from_the_held_out_slice():
    a = demo_data.demo_selection(per_class=5, seed=1)
    assert a == demo_data.demo_selection(per_class=5, seed=1)
    rest = demo_data.unused_images(per_class=5, seed=1)
    for cls in a:
        assert not set(a[cls]) & set(rest[cls])
