"""Run profiles: `smoke` (tests, seconds), `cpu` (the real study on 2 cores), `gpu` (the papers' settings)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

__all__ = ["Profile", "PROFILES", "resolve_profile"]


@dataclass(frozen=True)
class Profile:
    """Settings that change with the compute budget; everything else is fixed by the protocol."""

    name: str
    description: str
    n_folds: int = 5
    max_images_per_class: int | None = None
    seg_size: int = 320
    seg_epochs: int = 100          # U2NET-Lite started from DUTS, on every fold and split
    seg_epochs_scratch: int = 100  # U2NET-Lite from scratch (the papers' way; it needs more epochs); 0: not run
    seg_epochs_full: int = 100     # full U2NET from DUTS (2.4x U2NET-Lite's cost an epoch on CPU); 0: not run
    seg_probe_epochs: int = 10     # each batch-norm treatment's short fine-tune, compared on validation data;
                                   # 0: no probes, batch norm recalibrated (DEFAULT_BN_TREATMENT)
    seg_zoom_epochs: int = 100     # U2NET-Lite's zoomed second stage (DUTS start, lesion crops), every fold; 0: not run
    seg_medsam: bool = True        # LiteMedSAM outlines from U2NET-Lite's box and the true box (test fold 0)
    cls_size: int = 224
    cls_epochs: int | None = None  # scratch classifiers; None: each paper's own (Li 100, Liu 30)
    cls_epochs_pretrained: int | None = None  # ImageNet-started classifiers; None: each paper's own
    cls_cv_models: int = 2         # classifiers cross-validated on every fold (the best by validation AUC)
    cls_crop_models: int = 2       # of those, how many (best first) also classify the predicted-lesion crop
    cls_models: tuple[str, ...] | None = None  # None: every registered classifier
    three_class_headline: bool = True  # the headline's network runs the three-class task
    three_class_deepcardinal: bool = True  # DeepCardinal-50 (Li's network, from scratch) runs it too
    seeds: int = 3                 # training seeds of the headline classifier, for its seed-to-seed spread
    seg_seeds: int | None = None   # training seeds of U2NET-Lite (None: `seeds`); each costs a full training
    keep_checkpoints: bool = True  # False: large weights are not published (the smoke profile's are meaningless)
    results_meaningful: bool = True


PROFILES = {
    "smoke": Profile("smoke", "plumbing check on a tiny subset: its numbers mean nothing",
                     n_folds=3, max_images_per_class=12, seg_size=64, seg_epochs=1, seg_epochs_scratch=1,
                     seg_epochs_full=1, seg_probe_epochs=1, seg_zoom_epochs=1, cls_size=64, cls_epochs=1,
                     cls_epochs_pretrained=1,
                     cls_models=("deepcardinal50", "rcdnet", "effnet_lite0", "vit", "alexnet"),
                     seeds=2, keep_checkpoints=False, results_meaningful=False),
    "cpu": Profile("cpu", "the study at reduced resolution and epochs on 2 CPU cores",
                   # sized to 2 hours on a 2-core CPU without native bf16 (fp32): the epochs go to the pretrained
                   # headline models and their 5 folds; the from-scratch rows of the papers' comparison get fewer,
                   # and full U2NET (44 M parameters, 3 min an epoch here), the batch-norm probes (5.3 min; the
                   # recalibration won each cpu run's probe) and U2NET-Lite from scratch (5.5 min for 4 epochs, which
                   # say nothing about the papers' long from-scratch training; run 20261127-132528 has its row) run
                   # only in the gpu profile
                   seg_size=128, seg_epochs=4, seg_epochs_scratch=0, seg_epochs_full=0, seg_probe_epochs=0,
                   # the zoomed second stage of U2NET-Lite, as its probe ran it (reports/probes/zoom_refiner)
                   # LiteMedSAM (eval only, 2.0 min): gpu profile only since run 20261207-120813 (docs/cpu-study.md)
                   seg_zoom_epochs=4, seg_medsam=False,
                   # the scratch classifiers get 3 epochs (4 until run 20261127-045118); since the zoomed second stage
                   # (about 20 min) only the best cross-validated model also classifies the predicted-lesion crop on
                   # every fold (the second took 10.6 min in run 20261206-220803 and trailed it: OOF AUC 0.887 vs 0.888)
                   cls_size=128, cls_epochs=3, cls_epochs_pretrained=12, cls_crop_models=1,
                   # one seed: the 5 folds show the spread; the three-class task runs on the pretrained headline
                   seeds=1, three_class_deepcardinal=False,
                   # ResNeXt-50 32x4d runs once, as Li's DeepCardinal-50: Liu's "ResNeXt" row is the same network;
                   # EfficientNet-Lite0 (RcdNet's backbone alone: 2.0 min, fold-0 AUC 0.872 against RcdNet's 0.889 in
                   # run 20261207-120813) runs only in the gpu profile: no seed's fold-0 validation chose it for the 5
                   # folds (seed 1 chose Lite2, so Lite1 and Lite2 stay candidates)
                   cls_models=("deepcardinal50", "resnet50", "resnet34", "mobilenetv2", "effnet_lite1",
                               "effnet_lite2", "regnet", "vit", "alexnet", "rcdnet")),
    "gpu": Profile("gpu", "the papers' settings (224 px classification, 320 px segmentation) on one GPU"),
}


def resolve_profile(name: str, **overrides) -> Profile:
    """The named profile ('auto' picks gpu when CUDA is available, else cpu), with overrides."""
    if overrides.get("seeds", 1) < 1:
        raise ValueError(f"seeds must be at least 1, got {overrides['seeds']}")
    if "seeds" in overrides:
        overrides.setdefault("seg_seeds", overrides["seeds"])
    if name == "auto":
        name = "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PROFILES:
        raise ValueError(f"unknown profile '{name}'; choose one of {sorted(PROFILES)} or 'auto'")
    profile = replace(PROFILES[name], **overrides)
    return profile if profile.seg_seeds else replace(profile, seg_seeds=profile.seeds)
