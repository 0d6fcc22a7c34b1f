"""Bootstrap confidence intervals that resample groups (near-duplicate groups), not images; ratio and CI helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

__all__ = ["group_resamples", "group_bootstrap_ci", "format_ci", "safe_ratio"]


def group_resamples(size: int, groups: Sequence | None = None, n_resamples: int = 2000,
                    seed: int = 0) -> Iterator[np.ndarray]:
    """Row indices of `n_resamples` bootstrap samples that draw whole groups with replacement.

    With `groups` None every row is its own group.
    """
    groups = np.arange(size) if groups is None else np.asarray(groups)
    if groups.shape != (size,):
        raise ValueError(f"{size} values but {groups.size} group labels")
    _, members = np.unique(groups, return_inverse=True)
    by_group = [np.flatnonzero(members == g) for g in range(members.max() + 1)]
    rng = np.random.default_rng(seed)
    for _ in range(n_resamples):
        yield np.concatenate([by_group[g] for g in rng.integers(0, len(by_group), len(by_group))])


def group_bootstrap_ci(values: Sequence[float], groups: Sequence | None = None, n_resamples: int = 2000,
                       level: float = 0.95, seed: int = 0,
                       statistic: Callable[[np.ndarray], float] = np.mean) -> tuple[float, float]:
    """Percentile CI of `statistic` over `values`, resampling whole groups with replacement.

    `values` may be 2-D (one row per sample, e.g. a ratio's numerator and denominator), `statistic` then takes the
    resampled rows. With `groups` None every row is its own group. Images of one lesion are not
    independent, so resampling them one by one would give too narrow an interval.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("cannot bootstrap an empty sample")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    stats = np.array([statistic(values[rows]) for rows in group_resamples(len(values), groups, n_resamples, seed)])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def format_ci(low: float, high: float) -> str:
    """'0.819-0.952': a 95% interval as the tables show it."""
    return f"{low:.3f}-{high:.3f}"


def safe_ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0 when the denominator is 0 (e.g. precision with no positive call)."""
    return float(numerator / denominator) if denominator else 0.0
