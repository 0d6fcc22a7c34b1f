"""Near-duplicate groups in BUSI: the same lesion captured twice, re-cropped or shifted.

Method (checked by eye in notebook 01): each image becomes two fingerprints,
(a) its 16x16 box-downsampled grey levels, z-normalised, compared by Pearson
correlation r, and (b) a 64-bit perceptual hash (DCT pHash), compared by Hamming
distance d. Two images are near-duplicates when r >= 0.95, or d <= 10, or
(r >= 0.93 and d <= 18). Correlation catches re-captures of the same frame; the
hash catches crops and shifts that correlation misses. Groups are the connected
components of that pair graph, so a group never straddles a split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
import pandas as pd
from PIL import Image
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .manifest import sha256_file

__all__ = ["DuplicateRule", "DEFAULT_RULE", "fingerprints", "similarity_matrices", "near_duplicate_pairs",
           "assign_groups", "label_conflicts", "exact_duplicates"]


@dataclass(frozen=True)
class DuplicateRule:
    """Thresholds for calling two images near-duplicates (see the module docstring)."""

    strong_correlation: float = 0.95
    strong_hash_distance: int = 10
    weak_correlation: float = 0.93
    weak_hash_distance: int = 18
    thumbnail: int = 16

    def matches(self, correlation: np.ndarray, distance: np.ndarray) -> np.ndarray:
        return ((correlation >= self.strong_correlation) | (distance <= self.strong_hash_distance)
                | ((correlation >= self.weak_correlation) & (distance <= self.weak_hash_distance)))


DEFAULT_RULE = DuplicateRule()


def fingerprints(images: Sequence[np.ndarray], thumbnail: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(N, thumbnail**2) unit-norm centred thumbnails and (N, 64) boolean pHash bits."""
    vectors, hashes = [], []
    for image in images:
        pil = Image.fromarray(image)
        v = np.asarray(pil.resize((thumbnail, thumbnail), Image.BOX), dtype=np.float64).ravel()
        v -= v.mean()
        vectors.append(v / (np.linalg.norm(v) + 1e-9))
        hashes.append(imagehash.phash(pil).hash.ravel())
    return np.stack(vectors), np.stack(hashes)


def similarity_matrices(vectors: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise Pearson correlation and pHash Hamming distance (diagonal set to -1 and 64+1)."""
    correlation = vectors @ vectors.T
    distance = (hashes[:, None, :] != hashes[None, :, :]).sum(-1)
    np.fill_diagonal(correlation, -1.0)
    np.fill_diagonal(distance, hashes.shape[1] + 1)
    return correlation, distance


def near_duplicate_pairs(frame: pd.DataFrame, images: Sequence[np.ndarray],
                         rule: DuplicateRule = DEFAULT_RULE) -> pd.DataFrame:
    """Every matching pair (a < b) with its correlation and hash distance, most similar first."""
    if len(frame) != len(images):
        raise ValueError(f"frame has {len(frame)} rows but {len(images)} images were given")
    correlation, distance = similarity_matrices(*fingerprints(images, rule.thumbnail))
    a, b = np.nonzero(np.triu(rule.matches(correlation, distance), k=1))
    ids = frame["image_id"].to_numpy()
    labels = frame["label"].to_numpy()
    pairs = pd.DataFrame({
        "image_a": ids[a], "image_b": ids[b], "label_a": labels[a], "label_b": labels[b],
        "correlation": correlation[a, b].round(4), "hash_distance": distance[a, b],
    })
    return pairs.sort_values(["correlation"], ascending=False).reset_index(drop=True)


def assign_groups(frame: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """Group id per image (connected components of the pair graph), numbered by first image."""
    index = {image_id: i for i, image_id in enumerate(frame["image_id"])}
    rows = pairs["image_a"].map(index).to_numpy()
    cols = pairs["image_b"].map(index).to_numpy()
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(frame), len(frame)))
    _, component = connected_components(graph, directed=False)
    relabel = {c: i for i, c in enumerate(pd.unique(component))}
    return pd.Series([relabel[c] for c in component], index=frame.index, name="group")


def label_conflicts(frame: pd.DataFrame) -> pd.DataFrame:
    """Groups whose images carry more than one label: the same lesion filed under two classes."""
    labels = frame.groupby("group")["label"].agg(lambda s: sorted(set(s)))
    conflicting = labels[labels.map(len) > 1].index
    members = frame[frame["group"].isin(conflicting)]
    return (members.groupby("group")
            .agg(images=("image_id", list), labels=("label", lambda s: sorted(set(s))))
            .reset_index())


def exact_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Pairs of byte-identical image files (same sha256), with their labels."""
    digests = frame.assign(sha256=[sha256_file(p) for p in frame["image_path"]])
    rows = []
    for _, same in digests.groupby("sha256"):
        first = same.iloc[0]
        rows += [{"image_a": first.image_id, "image_b": other.image_id, "label_a": first.label,
                  "label_b": other.label} for other in same.iloc[1:].itertuples()]
    return pd.DataFrame(rows, columns=["image_a", "image_b", "label_a", "label_b"])
