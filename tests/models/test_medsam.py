"""LiteMedSAM: the box prompt, its input, and a clear lesion segmented from its box with the published weights."""

import numpy as np
import pytest

from buslib.models.medsam import MEDSAM_SIZE, box_prompt, lite_medsam, medsam_input, segment_with_boxes


def test_the_box_prompt_surrounds_the_largest_region_only():
    mask = np.zeros((40, 60), bool)
    mask[5:8, 5:8] = True          # a speck
    mask[10:30, 20:50] = True      # the lesion
    assert box_prompt(mask).tolist() == [20, 10, 49, 29]
    assert box_prompt(np.zeros((4, 4))) is None


def test_the_input_keeps_the_aspect_ratio_and_pads_bottom_and_right():
    image = np.tile(np.linspace(10, 200, 100, dtype=np.float32), (50, 1)).astype(np.uint8)
    pixels, scale = medsam_input(image)
    assert pixels.shape == (1, 3, MEDSAM_SIZE, MEDSAM_SIZE) and scale == pytest.approx(2.56)
    assert float(pixels.min()) == 0 and float(pixels[..., :128, :].max()) == pytest.approx(1)
    assert float(pixels[..., 128:, :].abs().max()) == 0          # padding below the 128-row image


@pytest.fixture(scope="module")
def disk():
    yy, xx = np.mgrid[:120, :160]
    inside = (yy - 60) ** 2 + (xx - 90) ** 2 < 30 ** 2
    rng = np.random.default_rng(0)
    image = np.clip(np.where(inside, 40, 170) + rng.normal(0, 12, inside.shape), 0, 255).astype(np.uint8)
    return image, inside                    # a dark round lesion in brighter tissue, as on ultrasound


def test_litemedsam_outlines_a_clear_lesion_from_its_box_and_leaves_unprompted_images_empty(disk):
    image, inside = disk
    masks = segment_with_boxes(lite_medsam(), [image, image], {"box": [box_prompt(inside), None]}, progress=False)
    found, unprompted = masks["box"]
    assert found.shape == inside.shape and not unprompted.any()
    assert (found & inside).sum() / (found | inside).sum() > 0.8
