"""Which files `predict` takes from a folder, which it leaves out and why, and how it reads other image formats."""

import numpy as np
import pytest
from PIL import Image

from buslib.predict.inputs import collect_images, read_scan


@pytest.fixture
def scan() -> Image.Image:
    return Image.fromarray(np.tile(np.arange(0, 250, 2, dtype=np.uint8), (80, 1)))


def test_a_folder_gives_its_scans_in_every_format_and_names_what_it_left_out(scan, tmp_path):
    for name in ("a.png", "b.JPG", "c.tif", "d.bmp", "nested/e.jpeg", "a_mask.png", "a_mask_1.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        scan.save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a scan")
    found, left_out = collect_images([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.png", "b.JPG", "c.tif", "d.bmp", "nested/e.jpeg"]
    assert {p.name: reason.split(" ")[0] for p, reason in left_out.items()} == {
        "a_mask.png": "a", "a_mask_1.png": "a", "notes.txt": "not"}
    assert "lesion mask" in left_out[tmp_path / "a_mask.png"]
    assert collect_images([tmp_path / "a_mask.png"]) == ([tmp_path / "a_mask.png"], {})   # named: always kept


def test_a_folder_without_scans_is_an_error_that_says_what_it_held(tmp_path):
    (tmp_path / "notes.txt").write_text("not a scan")
    with pytest.raises(FileNotFoundError, match="1 other files left out, e.g. .*notes.txt: not an image file"):
        collect_images([tmp_path])


def test_tiff_and_bmp_read_as_the_same_grey_pixels_and_a_multi_frame_file_says_it_used_the_first(scan, tmp_path):
    scan.save(tmp_path / "one.bmp")
    scan.save(tmp_path / "loop.tif", save_all=True, append_images=[scan.point(lambda v: 255 - v)])
    grey, flags = read_scan(tmp_path / "one.bmp")
    np.testing.assert_array_equal(grey, np.asarray(scan))
    assert flags == []
    grey, flags = read_scan(tmp_path / "loop.tif")
    np.testing.assert_array_equal(grey, np.asarray(scan))
    assert flags == ["2 frames (a cine loop or a multi-page file?): the first was used"]
