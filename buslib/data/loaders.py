"""fastai DataLoaders over cached arrays: segmentation (image + mask) and classification.

Augmentations follow the papers: Li et al. (flips, rotation, colour jitter,
Gaussian blur) and Liu et al. (random crop, flip, rotation, small scaling); 'liu_photometric' adds to Liu's
geometry a wider brightness/contrast jitter and Li's blur, for scanners whose gain differs (Dataset B's images average
0.75 times BUSI's brightness). Grey
images are repeated to three channels and normalised with the model's statistics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from fastai.torch_core import default_device
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from .normalise import IMAGENET_STATS, Stats, normalise

__all__ = ["RECIPES", "augmentations", "ArrayItems", "build_dataloaders"]

RECIPES = ("li", "liu", "liu_photometric", "none")


def augmentations(recipe: str, size: int) -> v2.Compose:
    """Training-time augmentation of one of the papers ('li', 'liu'), Liu's with photometric steps, or 'none'."""
    if recipe == "li":
        steps = [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip(), v2.RandomRotation(15),
                 v2.ColorJitter(brightness=0.2, contrast=0.2),
                 v2.RandomApply([v2.GaussianBlur(kernel_size=5, sigma=(0.1, 1.5))], p=0.3)]
    elif recipe in ("liu", "liu_photometric"):
        steps = [v2.RandomResizedCrop(size, scale=(0.8, 1.0), ratio=(0.9, 1.1), antialias=True),
                 v2.RandomHorizontalFlip(), v2.RandomRotation(15),
                 v2.RandomAffine(degrees=0, scale=(0.9, 1.1))]
        if recipe == "liu_photometric":
            steps += [v2.ColorJitter(brightness=0.3, contrast=0.3),
                      v2.RandomApply([v2.GaussianBlur(kernel_size=5, sigma=(0.1, 1.5))], p=0.3)]
    elif recipe == "none":
        steps = [v2.Identity()]
    else:
        raise ValueError(f"unknown augmentation recipe '{recipe}'; choose one of {RECIPES}")
    return v2.Compose(steps)


class ArrayItems(Dataset):
    """Items from uint8 arrays: (image tensor, target) with optional joint augmentation.

    `targets` is either per-item class indices (classification) or an (N, S, S)
    mask array (segmentation, returned as float (1, S, S)).
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray, transform: Callable | None = None,
                 stats: Stats = IMAGENET_STATS):
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        self.images, self.targets, self.transform = images, targets, transform
        self.is_mask = targets.ndim == 3
        self.stats = stats

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        image = tv_tensors.Image(torch.from_numpy(self.images[i]).unsqueeze(0).expand(3, -1, -1).contiguous())
        if self.is_mask:
            target = tv_tensors.Mask(torch.from_numpy(self.targets[i]).unsqueeze(0))
            if self.transform is not None:
                image, target = self.transform(image, target)
            target = target.as_subclass(torch.Tensor).float()
        else:
            target = torch.tensor(int(self.targets[i]))
            if self.transform is not None:
                image = self.transform(image)
        image = normalise(image.as_subclass(torch.Tensor).float()[None] / 255.0, self.stats)[0]
        return image, target


def build_dataloaders(images: np.ndarray, targets: np.ndarray, train_idx: np.ndarray, valid_idx: np.ndarray,
                      recipe: str, batch_size: int, stats: Stats = IMAGENET_STATS, num_workers: int = 0,
                      device: torch.device | None = None) -> DataLoaders:
    """Train (augmented, shuffled, last partial batch dropped) and valid (plain) fastai loaders."""
    size = images.shape[-1]
    train = ArrayItems(images[train_idx], targets[train_idx], augmentations(recipe, size), stats)
    valid = ArrayItems(images[valid_idx], targets[valid_idx], None, stats)
    drop_last = len(train) > batch_size
    return DataLoaders(
        DataLoader(train, bs=batch_size, shuffle=True, drop_last=drop_last, num_workers=num_workers),
        DataLoader(valid, bs=batch_size, shuffle=False, num_workers=num_workers),
        device=device or default_device(),
    )
