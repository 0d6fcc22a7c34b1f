"""Model bundles: weights and the facts to use them travel together, and are checked when read."""

import pytest
import torch

from buslib.models.bundle import ModelBundle, load_bundle, save_bundle
from buslib.models.registry import create_classifier, get_spec


def bundle():
    return ModelBundle("classifier", "rcdnet", 64, create_classifier("rcdnet", 2, 64).state_dict(),
                       get_spec("rcdnet").stats, 0.42, {"run": "r1", "commit": "abc1234"})


def test_a_bundle_round_trips_with_its_threshold_stats_and_provenance(tmp_path):
    loaded = load_bundle(save_bundle(bundle(), tmp_path / "c.pt"))
    assert (loaded.arch, loaded.size, loaded.threshold, loaded.provenance["run"]) == ("rcdnet", 64, 0.42, "r1")
    assert loaded.stats == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert loaded.build()(torch.zeros(1, 3, 64, 64)).shape == (1, 2)


def test_altered_weights_and_other_formats_are_refused(tmp_path):
    path = save_bundle(bundle(), tmp_path / "c.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["head.3.bias"] += 1
    torch.save(payload, path)
    with pytest.raises(ValueError, match="do not match the bundle's sha256"):
        load_bundle(path)
    torch.save({"format": "buslib-bundle/0", "state_dict": {}}, path)
    with pytest.raises(ValueError, match="bundle format 'buslib-bundle/0'"):
        load_bundle(path)
    path.write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable model bundle"):
        load_bundle(path)
