"""Each single classifier's predictions on one set of images, made once and shared by every ensemble that holds it.

Notebook 04 scores a fold model alone, inside its fold ensemble, inside an average of architectures, and beside its
ensemble; a crop classifier segments before it classifies, so running it again for each of those costs minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

__all__ = ["MemberPredictions"]


class _Single(Protocol):
    key: str

    def predict(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray: ...


class MemberPredictions:
    """P(malignant) of single classifiers on `images`, by key, each computed on first use. An ensemble (anything
    with `members`) is the mean of its members' probabilities, as `FoldEnsemble.predict` computes it."""

    def __init__(self, images: Sequence[np.ndarray] | np.ndarray) -> None:
        self.images = images
        self._by_key: dict[str, np.ndarray] = {}

    def single(self, classifier: _Single) -> np.ndarray:
        """P(malignant) per image of one single classifier."""
        if classifier.key not in self._by_key:
            self._by_key[classifier.key] = classifier.predict(self.images)
        return self._by_key[classifier.key]

    def members(self, ensemble) -> np.ndarray:
        """P(malignant) of every member of `ensemble` (members x images)."""
        return np.stack([self.single(member) for member in ensemble.members])

    def __call__(self, classifier) -> np.ndarray:
        """P(malignant) per image of a single classifier or an ensemble."""
        return self.members(classifier).mean(0) if hasattr(classifier, "members") else self.single(classifier)
