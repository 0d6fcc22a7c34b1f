"""Model bundles: weights and the facts to use them travel together, and are checked when read."""

import pytest
import torch

from buslib.models.bundle import ModelBundle, load_bundle, save_bundle, weights_sha256
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


def test_a_fold_ensemble_round_trips_with_every_member_and_refuses_an_altered_one(tmp_path):
    members = [create_classifier("rcdnet", 2, 64).state_dict() for _ in range(2)]
    ensemble = ModelBundle("classifier", "rcdnet", 64, members[0], get_spec("rcdnet").stats, 0.4,
                           fold_states=members[1:], member_tta=[True, False], review_level=0.05)
    loaded = load_bundle(save_bundle(ensemble, tmp_path / "e.pt"))
    assert loaded.members == 2 and (loaded.flip(0), loaded.flip(1), loaded.flip(5)) == (True, False, False)
    assert loaded.review_level == 0.05 and len(loaded.build_members()) == 2
    payload = torch.load(tmp_path / "e.pt", weights_only=True)
    payload["fold_states"][0]["head.3.bias"] += 1
    torch.save(payload, tmp_path / "e.pt")
    with pytest.raises(ValueError, match="do not match the bundle's sha256"):
        load_bundle(tmp_path / "e.pt")


def test_a_segmenter_carries_each_members_zoomed_second_stage_and_its_weights_are_hashed(tmp_path):
    from buslib.models.u2net import U2Net

    states = [U2Net("u2netp").state_dict() for _ in range(4)]
    zoomed = ModelBundle("segmenter", "u2netp", 64, states[0], fold_states=states[1:2], zoom_states=states[2:],
                         zoom_uses=["stage1_only", "all_box_margin0.6_passes2"])
    loaded = load_bundle(save_bundle(zoomed, tmp_path / "s.pt"))
    assert loaded.zoom_uses == ["stage1_only", "all_box_margin0.6_passes2"] and len(loaded.build_zoom_members()) == 2
    payload = torch.load(tmp_path / "s.pt", weights_only=True)
    payload["zoom_states"][1]["fuse.bias"] += 1
    torch.save(payload, tmp_path / "s.pt")
    with pytest.raises(ValueError, match="do not match the bundle's sha256"):
        load_bundle(tmp_path / "s.pt")
    with pytest.raises(ValueError, match="one stage 2 and one use per member: got a segmenter with 2 members, 1"):
        ModelBundle("segmenter", "u2netp", 64, states[0], fold_states=states[1:2], zoom_states=states[2:3],
                    zoom_uses=["stage1_only"])


def test_a_bundle_of_the_format_before_the_zoomed_stage_is_still_read(tmp_path):
    path = save_bundle(bundle(), tmp_path / "c.pt")
    payload = torch.load(path, weights_only=True)
    payload["format"] = "buslib-bundle/2"
    del payload["zoom_states"], payload["zoom_uses"]
    torch.save(payload, path)
    loaded = load_bundle(path)
    assert loaded.threshold == 0.42 and loaded.zoom_states == [] and loaded.zoom_uses == []


def test_a_detector_bundle_carries_its_lesion_gate_and_a_format_3_one_reads_as_the_classifiers_alone(tmp_path):
    from buslib.models.u2net import U2Net
    segmenters = [{k: v.half() for k, v in U2Net("u2netp").state_dict().items()} for _ in range(2)]
    detector = ModelBundle("detector", "rcdnet", 64, bundle().state_dict, threshold=0.75, gate="segmenter",
                           gate_thresholds=[0.7, 0.8], gate_states=segmenters, gate_tta=[True, False], gate_size=32)
    loaded = load_bundle(save_bundle(detector, tmp_path / "d.pt"))
    assert (loaded.gate, loaded.gate_thresholds, loaded.gate_tta, loaded.gate_size) == ("segmenter", [0.7, 0.8],
                                                                                          [True, False], 32)
    assert torch.equal(loaded.gate_states[1]["fuse.bias"], segmenters[1]["fuse.bias"])
    payload = torch.load(tmp_path / "d.pt", weights_only=True)
    payload["gate_states"][0]["fuse.bias"] += 1
    torch.save(payload, tmp_path / "d.pt")
    with pytest.raises(ValueError, match="do not match the bundle's sha256"):
        load_bundle(tmp_path / "d.pt")
    with pytest.raises(ValueError, match="one flip choice each: got a detector with 2 U2NET-Lites, 1 flip"):
        ModelBundle("detector", "rcdnet", 64, bundle().state_dict, gate_states=segmenters, gate_tta=[True])

    payload = torch.load(save_bundle(detector, tmp_path / "d.pt"), weights_only=True)
    payload["format"] = "buslib-bundle/3"
    for key in ("gate", "gate_thresholds", "gate_states", "gate_tta", "gate_size"):
        del payload[key]
    payload["sha256"] = weights_sha256(payload["state_dict"], *payload["fold_states"])
    torch.save(payload, tmp_path / "d.pt")
    old = load_bundle(tmp_path / "d.pt")
    assert old.gate == "detector" and old.gate_states == [] and old.gate_thresholds == [] and old.threshold == 0.75
