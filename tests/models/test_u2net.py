"""U2-Net shapes and sizes, segmentation metrics on hand-made masks, and the group bootstrap."""

import pytest
import torch

from buslib.models.u2net import RSU, U2Net, u2net, u2netp


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_u2net_paper():
    assert n_params(u2net()) == pytest.approx(44.0e6, rel=0.01)
    assert n_params(u2netp()) == pytest.approx(1.13e6, rel=0.01)


@pytest.mark.parametrize("size", [(64, 64), (77, 100), (33, 45)])
def test_any_input_size_gives_fused_plus_six_side_logits(size):
    model = u2netp().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))
    assert out.shape == (1, 7, *size)


def test_rsu_keeps_resolution_and_channels():
    block = RSU(5, 8, 4, 6).eval()
    with torch.no_grad():
        assert block(torch.randn(2, 8, 30, 41)).shape == (2, 6, 30, 41)
    with pytest.raises(ValueError, match="height"):
        RSU(1, 3, 3, 3)


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown U2-Net variant 'u2netxl'"):
        U2Net("u2netxl")

