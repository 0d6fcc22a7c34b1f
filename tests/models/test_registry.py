"""The classifier registry, RcdNet, offline EfficientNet-Lite0 weights and honest failure of hub weights."""

import pytest
import torch

from buslib.models import registry
from buslib.models.pretrained import efficientnet_lite_weights
from buslib.models.rcdnet import CBAM, RcdNet
from buslib.models.registry import CLASSIFIERS, cam_layer, create_classifier, get_spec

EXPECTED = {"deepcardinal50", "resnet50", "resnet34", "alexnet", "mobilenetv2", "regnet", "vit", "resnext50", "rcdnet",
            "effnet_lite0", "effnet_lite1", "effnet_lite2"}


def test_the_registry_holds_both_papers_models():
    assert set(CLASSIFIERS) == EXPECTED
    assert {s.paper for s in CLASSIFIERS.values()} == {"li", "liu", "ours"}
    assert get_spec("rcdnet").offline_weights and not get_spec("resnet34").offline_weights


def test_unknown_name_and_impossible_sizes_fail_loudly():
    with pytest.raises(ValueError, match="unknown classifier 'resnet18'"):
        create_classifier("resnet18", 2)
    with pytest.raises(ValueError, match="alexnet needs images of at least 63 px"):
        create_classifier("alexnet", 2, size=32)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_model_classifies_a_small_image_and_names_a_cam_layer(name):
    model = create_classifier(name, 3, size=64).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)
    assert isinstance(cam_layer(get_spec(name), model), torch.nn.Module)


def test_deepcardinal50_is_resnext50_32x4d():
    model = create_classifier("deepcardinal50", 2)
    conv = model.layer1[0].conv2
    assert conv.groups == 32 and conv.out_channels == 128  # 32 groups x 4 channels


def test_rcdnet_layout_and_its_offline_imagenet_backbone():
    model = create_classifier("rcdnet", 2, pretrained=True)
    assert isinstance(model, RcdNet) and isinstance(model.cbam, CBAM)
    assert model.dsc[0].groups == model.backbone.num_features  # depthwise
    weights = efficientnet_lite_weights(0)
    assert torch.equal(model.backbone.conv_stem.weight, weights["conv_stem.weight"])
    scratch = create_classifier("rcdnet", 2, pretrained=False)
    assert not torch.equal(scratch.backbone.conv_stem.weight, weights["conv_stem.weight"])


def test_a_local_weight_file_is_accepted_and_a_wrong_one_refused(tmp_path):
    source = create_classifier("mobilenetv2", 2)
    path = tmp_path / "w.pth"
    torch.save(source.state_dict(), path)
    loaded = create_classifier("mobilenetv2", 2, pretrained=path)
    assert torch.equal(loaded.conv_stem.weight, source.conv_stem.weight)
    with pytest.raises(FileNotFoundError, match="no weight file"):
        create_classifier("mobilenetv2", 2, pretrained=tmp_path / "absent.pth")
    torch.save(create_classifier("regnet", 2).state_dict(), path)
    with pytest.raises(ValueError, match="does not fit 'mobilenetv2'"):
        create_classifier("mobilenetv2", 2, pretrained=path)


def test_hub_weights_fail_with_a_clear_message_when_there_is_no_network(monkeypatch):
    def offline(*args, pretrained=False, **kwargs):
        if pretrained:
            raise OSError("no route to host")
        return real(*args, pretrained=pretrained, **kwargs)

    real = registry.timm.create_model
    monkeypatch.setattr(registry.timm, "create_model", offline)
    with pytest.raises(RuntimeError, match="ImageNet weights for 'resnet34' could not be downloaded"):
        create_classifier("resnet34", 2, pretrained=True)


def test_model_facts_live_on_the_spec():
    assert get_spec("rcdnet").stats == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert get_spec("resnet50").stats[0] == pytest.approx((0.485, 0.456, 0.406))
    assert get_spec("vit").cam_reshape == "vit_tokens" and get_spec("resnet50").cam_reshape is None
    head = create_classifier("mobilenetv2", 2, size=64).get_submodule(get_spec("mobilenetv2").head)
    assert head.out_features == 2
