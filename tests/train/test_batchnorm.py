"""Batch-norm treatments of the folded DUTS start: recalibrated is the identity on the images, frozen stays
in eval mode while training, dropped is gone."""

import numpy as np
import pytest
import torch
from torch import nn

from buslib.infer import to_input
from buslib.profiles import PROFILES
from buslib.train.batchnorm import (
    BN_TREATMENTS,
    DEFAULT_BN_TREATMENT,
    FreezeBatchNorm,
    drop_batchnorm,
    prepare_batchnorm,
    recalibrate_batchnorm,
)


def folded_net() -> nn.Sequential:
    """Convolutions with an identity batch norm after each, as the ONNX import leaves them."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Conv2d(4, 2, 3, padding=1), nn.BatchNorm2d(2))
    for module in net:
        if isinstance(module, nn.BatchNorm2d):
            module.running_var.fill_(1 - module.eps)
    return net.eval()


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (6, 16, 16), dtype=np.uint8)


def test_recalibrated_batch_norm_is_the_identity_on_the_images_in_both_modes(images):
    net = folded_net()
    x = to_input(images)
    with torch.no_grad():
        before = net(x)
        recalibrate_batchnorm(net, images, batch_size=4)
        after_eval = net.eval()(x)
        after_train = net.train()(x)
    assert not torch.allclose(net[1].running_var, torch.ones(4))
    torch.testing.assert_close(after_eval, before, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(after_train, before, atol=1e-3, rtol=1e-3)


def test_dropped_batch_norm_leaves_none(images):
    net = drop_batchnorm(folded_net())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert prepare_batchnorm(folded_net(), "drop", images) == []


def test_freeze_keeps_batch_norm_in_eval_mode_while_training(images):
    net = folded_net()
    callbacks = prepare_batchnorm(net, "freeze", images)
    assert len(callbacks) == 1 and isinstance(callbacks[0], FreezeBatchNorm)
    net.train()
    callbacks[0].learn = type("L", (), {"model": net})()
    callbacks[0].before_train()
    assert not net[1].training and net[0].training
    with pytest.raises(ValueError, match="unknown batch-norm treatment 'zero'"):
        prepare_batchnorm(net, "zero", images)


def test_profiles_without_probes_fall_back_to_a_known_treatment():
    assert DEFAULT_BN_TREATMENT in BN_TREATMENTS
    assert PROFILES["cpu"].seg_probe_epochs == 0 and PROFILES["smoke"].seg_probe_epochs > 0  # smoke runs the probe path
