"""A model bundle: weights plus everything needed to use them on new images, in one file.

A bundle holds the architecture (registry name or U2-Net variant), the input size and normalisation it
was trained with, the decision threshold frozen on BUSI validation data (classifier: P(malignant);
detector, a normal-vs-lesion classifier: P(lesion)), where it came
from (run, commit, profile, data, split), the bundle format version and a sha256 of the weights. A fold
ensemble carries every fold model's weights, whether test-time flip averaging is used, and the level of
disagreement between its members above which an image is flagged for review; a segmenter's may carry each fold's
zoomed second stage and the use chosen for it on validation data (`buslib.experiments.zoom`); a detector's, the
lesion gate notebook 02 chose (`buslib.experiments.lesion_gate`): whose score flags an image, each fold's threshold
and, where the gate uses them, the fold U2NET-Lites with their flip choices. It is read with
`torch.load(weights_only=True)`; another format version or a wrong hash is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..data.normalise import IMAGENET_STATS, Stats
from .registry import get_spec, load_classifier
from .u2net import STAGES, U2Net

__all__ = ["BUNDLE_FORMAT", "ModelBundle", "float_state", "weights_sha256", "save_bundle", "load_bundle"]

BUNDLE_FORMAT = "buslib-bundle/4"
# /3 added the zoomed second stage (absent from /2 files), /4 the detector's lesion gate (/2 and /3: 'detector')
READABLE_FORMATS = ("buslib-bundle/2", "buslib-bundle/3", BUNDLE_FORMAT)
CLASSIFIER_KINDS = ("classifier", "detector")  # two-class registry networks: benign/malignant, normal/lesion


@dataclass
class ModelBundle:
    """A trained model and the facts to use it: kind 'classifier', 'detector' or 'segmenter'."""

    kind: str
    arch: str                      # classifier registry name, or 'u2netp' / 'u2net'
    size: int                      # square input side in pixels
    state_dict: dict[str, torch.Tensor]
    stats: Stats = IMAGENET_STATS
    threshold: float = float("nan")  # classifier: P(malignant) at or above which it calls malignant; detector:
    #                                  P(lesion) above which it reports a lesion
    provenance: dict[str, str] = field(default_factory=dict)
    fold_states: list[dict[str, torch.Tensor]] = field(default_factory=list)  # the other fold models' weights
    member_tta: list[bool] = field(default_factory=list)  # per member: average with the horizontal flip
    review_level: float = float("nan")  # member SD of the output above which an image is flagged for review
    zoom_states: list[dict[str, torch.Tensor]] = field(default_factory=list)  # segmenter: each member's stage 2
    zoom_uses: list[str] = field(default_factory=list)  # each member's `ZoomUse` name, or 'stage1_only'
    gate: str = "detector"  # detector: whose score flags ('detector': its own members', 'segmenter', 'mean')
    gate_thresholds: list[float] = field(default_factory=list)  # detector: each fold's threshold on the gate's score
    gate_states: list[dict[str, torch.Tensor]] = field(default_factory=list)  # detector: the gate's fold U2NET-Lites
    gate_tta: list[bool] = field(default_factory=list)  # detector: each of those with the horizontal flip
    gate_size: int = 0  # detector: their square input side

    def __post_init__(self) -> None:
        if self.zoom_states and (self.kind != "segmenter" or len(self.zoom_states) != self.members
                                 or len(self.zoom_uses) != self.members):
            raise ValueError(f"a zoomed second stage needs a segmenter bundle with one stage 2 and one use per member: "
                             f"got a {self.kind} with {self.members} members, {len(self.zoom_states)} stage 2 "
                             f"weights and {len(self.zoom_uses)} uses")
        if self.gate_states and (self.kind != "detector" or len(self.gate_states) != len(self.gate_tta)):
            raise ValueError(f"a lesion gate's U2NET-Lites need a detector bundle with one flip choice each: got a "
                             f"{self.kind} with {len(self.gate_states)} U2NET-Lites, {len(self.gate_tta)} flip choices")

    @property
    def members(self) -> int:
        return 1 + len(self.fold_states)

    def build(self, state_dict: dict[str, torch.Tensor] | None = None) -> nn.Module:
        """The network with the bundle's (first) weights, or `state_dict`, in eval mode."""
        if self.kind in CLASSIFIER_KINDS:
            return load_classifier(self.arch, 2, self.size, state_dict or self.state_dict)
        if self.kind == "segmenter" and self.arch in STAGES:
            model = U2Net(self.arch)
        else:
            raise ValueError(f"bundle of unknown kind/architecture: {self.kind} / {self.arch}")
        model.load_state_dict(float_state(state_dict or self.state_dict))
        return model.eval()

    def flip(self, member: int) -> bool:
        """Whether member `member` averages with the horizontal flip."""
        return bool(self.member_tta[member]) if member < len(self.member_tta) else False

    def build_members(self) -> list[nn.Module]:
        """Every member network: the first and the other folds'."""
        return [self.build(state) for state in [self.state_dict, *self.fold_states]]

    def build_zoom_members(self) -> list[nn.Module]:
        """Every member's zoomed second stage (a U2NET-Lite), in member order; empty when the bundle has none."""
        return [self.build(state) for state in self.zoom_states]


def float_state(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights saved in half precision back in float32 (integer buffers untouched), ready to load."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()}


def weights_sha256(state_dict: dict[str, torch.Tensor], *more: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names, shapes and bytes, in key order, state dict after state dict."""
    digest = hashlib.sha256()
    for name, tensor in (item for states in (state_dict, *more) for item in states.items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        if tensor.numel():
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_bundle(bundle: ModelBundle, path: Path) -> Path:
    """Write the bundle as one `.pt` file (a dict of tensors, strings and numbers)."""
    if bundle.kind in CLASSIFIER_KINDS:
        get_spec(bundle.arch)  # an unknown name fails here, not when a user loads it
    payload = {"format": BUNDLE_FORMAT, "kind": bundle.kind, "arch": bundle.arch, "size": bundle.size,
               "stats": [list(bundle.stats[0]), list(bundle.stats[1])], "threshold": float(bundle.threshold),
               "provenance": dict(bundle.provenance), "member_tta": [bool(flip) for flip in bundle.member_tta],
               "review_level": float(bundle.review_level),
               "sha256": weights_sha256(bundle.state_dict, *bundle.fold_states, *bundle.zoom_states,
                                        *bundle.gate_states),
               "state_dict": bundle.state_dict, "fold_states": list(bundle.fold_states),
               "zoom_states": list(bundle.zoom_states), "zoom_uses": list(bundle.zoom_uses), "gate": bundle.gate,
               "gate_thresholds": [float(t) for t in bundle.gate_thresholds], "gate_states": list(bundle.gate_states),
               "gate_tta": [bool(flip) for flip in bundle.gate_tta], "gate_size": int(bundle.gate_size)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return path


def load_bundle(path: Path) -> ModelBundle:
    """Read a bundle safely (`weights_only=True`); refuse another format version or altered weights."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model bundle")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        raise ValueError(f"{path}: not a readable model bundle ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict) or payload.get("format") not in READABLE_FORMATS:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path}: bundle format {found!r}, this buslib reads {' or '.join(READABLE_FORMATS)}")
    zoom_states, gate_states = list(payload.get("zoom_states", [])), list(payload.get("gate_states", []))
    if weights_sha256(payload["state_dict"], *payload["fold_states"], *zoom_states, *gate_states) != payload["sha256"]:
        raise ValueError(f"{path}: the weights do not match the bundle's sha256: altered or damaged, refusing it")
    stats = (tuple(payload["stats"][0]), tuple(payload["stats"][1]))
    return ModelBundle(payload["kind"], payload["arch"], int(payload["size"]), payload["state_dict"], stats,
                       float(payload["threshold"]), dict(payload["provenance"]), list(payload["fold_states"]),
                       [bool(flip) for flip in payload["member_tta"]], float(payload["review_level"]), zoom_states,
                       [str(use) for use in payload.get("zoom_uses", [])], str(payload.get("gate", "detector")),
                       [float(t) for t in payload.get("gate_thresholds", [])], gate_states,
                       [bool(flip) for flip in payload.get("gate_tta", [])], int(payload.get("gate_size", 0)))
