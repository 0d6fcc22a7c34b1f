"""Reading BUSI and Dataset B in their official layouts, and every way the input can be wrong."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from buslib.data.images import DataError, read_image, read_mask
from buslib.data.locate import find_data_root
from buslib.data.readers import read_busi, read_dataset_b


def busi_dir(root: Path) -> Path:
    return root / "Dataset_BUSI_with_GT"


def test_phantom_busi_is_indexed_with_labels_sizes_and_masks(phantom_root):
    frame = read_busi(phantom_root)
    assert frame["label"].value_counts().to_dict() == {"benign": 17, "malignant": 10, "normal": 6}
    row = frame.set_index("image_id").loc["benign (3)"]
    with Image.open(row["image_path"]) as im:
        assert (row["width"], row["height"]) == im.size


def test_split_masks_are_merged_by_union(phantom_root):
    row = read_busi(phantom_root).set_index("image_id").loc["benign (2)"]
    assert [p.name for p in row["mask_paths"]] == ["benign (2)_mask.png", "benign (2)_mask_1.png"]
    image = read_image(row["image_path"])
    parts = [read_mask([p], image.shape) for p in row["mask_paths"]]
    union = read_mask(list(row["mask_paths"]), image.shape)
    assert parts[0].any() and parts[1].any()
    assert np.array_equal(union, parts[0] | parts[1])


def test_dataset_b_labels_and_diagnoses_come_from_the_spreadsheet(phantom_root):
    frame = read_dataset_b(phantom_root)
    assert frame["label"].value_counts().to_dict() == {"benign": 8, "malignant": 4}
    assert set(frame["diagnosis"]) == {"CYST", "FA", "IDC", "DCIS"}
    assert frame["image_id"].iloc[0] == "000001"


def test_corrupt_png_names_the_file(phantom_copy):
    bad = busi_dir(phantom_copy) / "benign" / "benign (3).png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match=r"benign \(3\)\.png"):
        read_busi(phantom_copy)


def test_truncated_png_is_reported_when_decoded(phantom_copy):
    path = busi_dir(phantom_copy) / "benign" / "benign (4).png"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"benign \(4\)\.png: corrupt or truncated"):
        read_image(path)


def test_mask_of_another_size_names_mask_and_both_sizes(phantom_copy):
    mask = busi_dir(phantom_copy) / "malignant" / "malignant (1)_mask.png"
    Image.new("1", (17, 13)).save(mask)
    with pytest.raises(DataError, match=r"malignant \(1\)_mask\.png: mask is 17x13 but its image is \d+x\d+"):
        read_busi(phantom_copy)


def test_image_without_mask(phantom_copy):
    (busi_dir(phantom_copy) / "normal" / "normal (2)_mask.png").unlink()
    with pytest.raises(DataError, match=r"normal \(2\)\.png: image has no mask"):
        read_busi(phantom_copy)


def test_mask_without_image(phantom_copy):
    (busi_dir(phantom_copy) / "normal" / "normal (2).png").unlink()
    with pytest.raises(DataError, match="mask files without an image"):
        read_busi(phantom_copy)


def test_unexpected_file_is_an_unknown_layout(phantom_copy):
    (busi_dir(phantom_copy) / "benign" / "IMG_0001.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"IMG_0001\.png: unexpected file in the BUSI layout"):
        read_busi(phantom_copy)


def test_missing_class_folder_is_an_unknown_layout(phantom_copy):
    shutil.rmtree(busi_dir(phantom_copy) / "normal")
    with pytest.raises(DataError, match="unknown BUSI layout"):
        read_busi(phantom_copy)


def test_spreadsheet_with_other_columns(phantom_copy):
    sheet = phantom_copy / "DatasetB" / "DatasetB.xlsx"
    pd.DataFrame({"Image": ["000001"], "Class": ["Benign"]}).to_excel(sheet, sheet_name="Hoja1", index=False)
    with pytest.raises(DataError, match=r"DatasetB\.xlsx: sheet 'Hoja1' lacks columns \['Type', 'Diagnosis'\]"):
        read_dataset_b(phantom_copy)


def test_spreadsheet_without_the_sheet(phantom_copy):
    sheet = phantom_copy / "DatasetB" / "DatasetB.xlsx"
    pd.DataFrame({"Image": ["000001"]}).to_excel(sheet, sheet_name="Sheet1", index=False)
    with pytest.raises(DataError, match="cannot read sheet 'Hoja1'"):
        read_dataset_b(phantom_copy)


def test_spreadsheet_with_unknown_type(phantom_copy):
    sheet = phantom_copy / "DatasetB" / "DatasetB.xlsx"
    table = pd.read_excel(sheet, sheet_name="Hoja1", dtype=str)
    table.loc[0, "Type"] = "Suspicious"
    table.to_excel(sheet, sheet_name="Hoja1", index=False)
    with pytest.raises(DataError, match="Type 'Suspicious', expected Benign or Malignant"):
        read_dataset_b(phantom_copy)


def test_dataset_b_image_listed_but_missing(phantom_copy):
    (phantom_copy / "DatasetB" / "original" / "000003.png").unlink()
    with pytest.raises(DataError, match=r"000003\.png: listed in DatasetB\.xlsx but missing"):
        read_dataset_b(phantom_copy)


def test_dataset_b_mask_of_another_size(phantom_copy):
    Image.new("L", (10, 10)).save(phantom_copy / "DatasetB" / "GT" / "000002.png")
    with pytest.raises(DataError, match=r"GT/000002\.png: mask is 10x10"):
        read_dataset_b(phantom_copy)


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("BUSLIB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as err:
        find_data_root(tmp_path / "empty")
    assert str(tmp_path / "empty" / "Dataset_BUSI_with_GT") in str(err.value)
    assert "BUSI" in str(err.value) and "request" in str(err.value)


def test_data_root_precedence_argument_then_environment(phantom_root, tmp_path, monkeypatch):
    monkeypatch.setenv("BUSLIB_DATA", str(phantom_root))
    assert find_data_root() == phantom_root.resolve()
    other = shutil.copytree(phantom_root, tmp_path / "other")
    assert find_data_root(other) == Path(other).resolve()


def test_data_root_falls_back_to_dot_data(phantom_root, tmp_path, monkeypatch):
    monkeypatch.delenv("BUSLIB_DATA", raising=False)
    shutil.copytree(phantom_root, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    assert find_data_root() == (tmp_path / "data").resolve()


def test_a_spreadsheet_that_is_not_a_workbook(phantom_copy):
    (phantom_copy / "DatasetB" / "DatasetB.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"DatasetB\.xlsx: cannot read sheet 'Hoja1' as an Excel workbook"):
        read_dataset_b(phantom_copy)
