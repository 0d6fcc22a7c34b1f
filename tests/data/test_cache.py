"""The resized-array cache: contents, reuse on a hit, invalidation when the data change."""

import numpy as np
import pytest

import buslib.data.cache as cache_module
from buslib.data.cache import data_hash, load_arrays, resize_pair
from buslib.data.readers import read_busi


def test_arrays_have_the_requested_size_and_binary_masks(phantom_root, tmp_path):
    frame = read_busi(phantom_root)
    arrays = load_arrays(frame, 32, tmp_path, progress=False)
    assert arrays.images.shape == (len(frame), 32, 32) and arrays.images.dtype == np.uint8
    assert set(np.unique(arrays.masks)) <= {0, 1}
    normal = frame.index[frame["label"] == "normal"]
    assert arrays.masks[normal].sum() == 0
    assert arrays.masks[frame.index[frame["label"] == "malignant"]].sum() > 0
    assert list(arrays.image_ids) == frame["image_id"].tolist()


def test_second_load_is_a_cache_hit_without_decoding(phantom_root, tmp_path, monkeypatch):
    frame = read_busi(phantom_root)
    first = load_arrays(frame, 24, tmp_path, progress=False)
    monkeypatch.setattr(cache_module, "read_image", lambda path: pytest.fail(f"decoded {path} on a cache hit"))
    second = load_arrays(frame, 24, tmp_path, progress=False)
    assert second.path == first.path
    assert np.array_equal(first.images, second.images)


def test_changed_file_changes_the_key(phantom_copy):
    frame = read_busi(phantom_copy)
    before = data_hash(frame)
    path = frame["image_path"].iloc[0]
    path.write_bytes(path.read_bytes() + b"\0")
    assert data_hash(frame) != before


def test_mask_resize_keeps_a_small_lesion_roughly_its_size():
    mask = np.zeros((200, 200), bool)
    mask[90:110, 80:120] = True
    _, small = resize_pair(np.zeros((200, 200), np.uint8), mask, 50)
    assert small.sum() == pytest.approx(mask.sum() / 16, rel=0.2)


def test_too_small_size_is_refused(phantom_root, tmp_path):
    with pytest.raises(ValueError, match="at least 8"):
        load_arrays(read_busi(phantom_root), 4, tmp_path)
