"""Offline pretrained weights: the converted networks compute what the originals compute."""

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchvision

from buslib.models.onnx_import import onnx_convolutions, upstream_order
from buslib.models.pretrained import efficientnet_lite_weights, mobilenetv2_weights, u2net_duts
from buslib.models.registry import create_classifier, get_spec
from buslib.models.u2net import U2Net
from buslib.models.weights import WEIGHTS, weight_file


@pytest.mark.parametrize("variant", ["u2netp", "u2net"])
def test_converted_u2net_reproduces_the_onnx_model(variant):
    path = weight_file(f"{variant}_duts")
    model = u2net_duts(variant)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(1, 3, 320, 320)).astype(np.float32)
    expected = session.run(None, {session.get_inputs()[0].name: x})
    with torch.no_grad():
        ours = torch.sigmoid(model(torch.from_numpy(x))).numpy()
    for k in range(7):  # fused map, then side outputs 1-6 in both
        assert np.abs(ours[0, k] - expected[k][0, 0]).max() < 1e-4, f"output {k}"


def test_side_outputs_are_mapped_by_meaning_not_position():
    model = U2Net("u2netp")
    order = [conv for conv, _ in upstream_order(model)]
    assert order[-7:-1] == list(reversed(model.sides)) and order[-1] is model.fuse
    assert len(onnx_convolutions(weight_file("u2netp_duts"))) == len(order) == 119


def test_mobilenetv2_renamed_in_order_computes_what_torchvision_computes():
    reference = torchvision.models.mobilenet_v2()
    reference.load_state_dict(torch.load(weight_file("mobilenetv2_imagenet"), weights_only=True))
    import timm

    ours = timm.create_model("mobilenetv2_100", pretrained=False)
    ours.load_state_dict(mobilenetv2_weights())
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(reference.eval()(x), ours.eval()(x), atol=1e-4)


@pytest.mark.parametrize("name, n", [("effnet_lite0", 0), ("effnet_lite1", 1), ("effnet_lite2", 2), ("rcdnet", 0)])
def test_offline_imagenet_starts_load_the_backbone_and_a_small_head(name, n):
    model = create_classifier(name, 2, size=64, pretrained=True)
    stem = (model.backbone if name == "rcdnet" else model).conv_stem.weight
    assert torch.equal(stem, efficientnet_lite_weights(n)["conv_stem.weight"])
    head = [m for m in model.get_submodule(get_spec(name).head).modules() if isinstance(m, torch.nn.Linear)][-1]
    assert head.weight.std() < 0.02 and torch.all(head.bias == 0)  # N(0, 0.01), not timm's uniform(+-0.71)


def test_every_weight_names_its_source_and_a_missing_one_names_the_fetch_command(tmp_path, monkeypatch):
    assert all(w.sha256 and w.version and w.package for w in WEIGHTS.values())
    monkeypatch.setenv("BUSLIB_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="python -m buslib weights fetch"):
        weight_file("u2netp_duts")
