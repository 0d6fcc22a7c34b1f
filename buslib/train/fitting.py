"""What segmentation and classification training share: recipe lookup, schedules, seeding per run."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Protocol, TypeVar

import fastai.callback.schedule  # noqa: F401  (patches Learner.fit_one_cycle)
from fastai.callback.schedule import ParamScheduler, SchedCos
from fastai.callback.tracker import ReduceLROnPlateau
from fastai.learner import Learner
from fastai.torch_core import set_seed

from .callbacks import SkipValidation

__all__ = ["Recipe", "lookup_recipe", "fit", "SCHEDULES", "READS_VALIDATION", "run_seed", "seed_run"]


class Recipe(Protocol):
    name: str
    lr: float
    schedule: str


R = TypeVar("R")


def lookup_recipe(recipes: Mapping[str, R], name: str, kind: str) -> R:
    """The recipe called `name`, or a ValueError listing the `kind` recipes there are."""
    if name not in recipes:
        raise ValueError(f"unknown {kind} recipe '{name}'; choose one of {sorted(recipes)}")
    return recipes[name]


SCHEDULES = {
    "constant": lambda learn, epochs, lr: learn.fit(epochs, lr),
    "one_cycle": lambda learn, epochs, lr: learn.fit_one_cycle(epochs, lr),
    "plateau": lambda learn, epochs, lr: learn.fit(epochs, lr, cbs=[
        ReduceLROnPlateau(monitor="valid_loss", factor=10, patience=10)]),
    "cosine": lambda learn, epochs, lr: learn.fit(epochs, lr, cbs=[ParamScheduler({"lr": SchedCos(lr, lr / 100)})]),
}


# schedules that read the validation loss after every epoch: their runs always validate
READS_VALIDATION = frozenset({"plateau"})


def fit(learn: Learner, recipe: Recipe, epochs: int, monitor: bool = True) -> Learner:
    """Train for `epochs` with the recipe's schedule: constant, fastai's one-cycle, constant with
    ReduceLROnPlateau (factor 0.1, patience 10), or cosine annealing to lr/100. `monitor` False skips fastai's
    per-epoch validation pass (no learning curve) unless the schedule reads it (`READS_VALIDATION`)."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if recipe.schedule not in SCHEDULES:
        raise ValueError(f"recipe '{recipe.name}' has unknown schedule '{recipe.schedule}'; choose one of "
                         f"{sorted(SCHEDULES)}")
    skip = [] if monitor or recipe.schedule in READS_VALIDATION else [SkipValidation()]
    with learn.added_cbs(skip):
        SCHEDULES[recipe.schedule](learn, epochs, recipe.lr)
    return learn


def run_seed(key: str, seed: int = 0) -> int:
    """A 31-bit seed derived from a run's key and the study seed: the same run gets the same seed
    whatever ran before it."""
    digest = hashlib.sha256(f"{key}:{seed}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def seed_run(key: str, seed: int = 0) -> int:
    """Seed Python's `random`, NumPy and torch (fastai's `set_seed`, deterministic cuDNN) for one run."""
    derived = run_seed(key, seed)
    set_seed(derived, reproducible=True)
    return derived
