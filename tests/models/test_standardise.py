"""Per-image standardisation inside the network: blind to a scanner's gain and offset, and carried by the weights."""

import pytest
import torch

from buslib.models.bundle import ModelBundle, load_bundle, save_bundle
from buslib.models.registry import cam_layer, create_classifier, get_spec, load_classifier
from buslib.models.standardise import MARKER, standardise_inputs, standardises_inputs


def _images() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(2, 3, 64, 64) * 2 - 1


@pytest.mark.parametrize("name", ["mobilenetv2", "rcdnet"])
def test_a_standardising_network_ignores_gain_and_offset_and_a_plain_one_does_not(name):
    torch.manual_seed(0)
    plain = create_classifier(name, 2, 64).eval()
    standardised = standardise_inputs(create_classifier(name, 2, 64)).eval()
    standardised.load_state_dict(plain.state_dict() | {MARKER: torch.ones(())})
    images = _images()
    with torch.no_grad():
        assert torch.allclose(standardised(images), standardised(0.6 * images - 0.4), atol=1e-4)
        assert not torch.allclose(plain(images), plain(0.6 * images - 0.4), atol=1e-4)
    assert set(standardised.state_dict()) - set(plain.state_dict()) == {MARKER}
    assert [n for n, _ in standardised.named_modules()] == [n for n, _ in plain.named_modules()]  # same CAM paths
    assert isinstance(cam_layer(get_spec(name), standardised), torch.nn.Module)


def test_the_weights_say_whether_their_network_standardised(tmp_path):
    model = create_classifier("mobilenetv2", 2, 64, standardise=True).eval()
    state = model.state_dict()
    assert standardises_inputs(state) and not standardises_inputs(create_classifier("mobilenetv2", 2, 64).state_dict())
    images = _images()
    with torch.no_grad():
        expected = model(images)
        assert torch.equal(load_classifier("mobilenetv2", 2, 64, state)(images), expected)
        half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        assert torch.allclose(load_classifier("mobilenetv2", 2, 64, half)(images), expected, rtol=0.02, atol=0.05)
        torch.save(state, tmp_path / "w.pth")
        assert torch.equal(create_classifier("mobilenetv2", 2, 64, pretrained=tmp_path / "w.pth").eval()(images),
                           expected)
        bundle = ModelBundle("classifier", "mobilenetv2", 64, state, get_spec("mobilenetv2").stats, 0.5)
        assert torch.equal(load_bundle(save_bundle(bundle, tmp_path / "b.pt")).build()(images), expected)
    unmarked = tmp_path / "plain.pth"   # a plain start asked to standardise does so
    torch.save(create_classifier("mobilenetv2", 2, 64).state_dict(), unmarked)
    assert standardises_inputs(create_classifier("mobilenetv2", 2, 64, pretrained=unmarked, standardise=True)
                               .state_dict())
    with pytest.raises(RuntimeError, match=MARKER):   # never silently dropped
        create_classifier("mobilenetv2", 2, 64).load_state_dict(state)
    with pytest.raises(ValueError, match="already standardises"):
        standardise_inputs(model)
