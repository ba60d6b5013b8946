"""Train a KAN on one of the KAN paper's toy functions, for symbolic regression (``kanformer symbolic``).

data = paper_data("exp(sin(pi*x)+y^2)")
kan = train_kan(data, [2, 1, 1])    # float64, LBFGS with grid extension, best of several starts
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..fitting import grow_kan
from ..layers import KAN
from ..paper.fitting import PAPER_FUNCTIONS, sample


@dataclass
class PaperData:
    """Train and test samples of a paper function: x (N, dim), y (N, 1), float64."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor


def paper_data(name: str, n_train: int = 1000, n_test: int = 1000, seed: int = 0) -> PaperData:
    """Samples of PAPER_FUNCTIONS[name] on [-1, 1]^dim; targets recomputed in float64 for exact fits."""
    if name not in PAPER_FUNCTIONS:
        raise ValueError(f"function {name!r} is not known; choose one of {list(PAPER_FUNCTIONS)}")
    gen = torch.Generator().manual_seed(seed)
    fn = PAPER_FUNCTIONS[name][1]
    x_train, x_test = (sample(name, n, gen)[0].double() for n in (n_train, n_test))
    return PaperData(x_train, fn(x_train).unsqueeze(1), x_test, fn(x_test).unsqueeze(1))


def train_kan(
    data: PaperData,
    widths: Sequence[int],
    grids: Sequence[int] = (3, 5, 10, 20),
    steps: int = 10,
    seed: int = 0,
    restarts: int = 5,
) -> KAN:
    """A float64 KAN trained with LBFGS (``steps`` x 20 iterations per grid) and grid extension
    (:func:`kanformer.fitting.grow_kan`).

    Narrow KANs such as [2, 1, 1] often stall in a local minimum (about half of the
    initialisations for exp(sin(pi x) + y^2)), so the first stage is run from
    ``restarts`` initialisations (seeds seed, seed + 1, ...) and the best on the
    training data continues through the finer grids.
    """
    # Grids follow the data before each stage, so hidden activations that drifted stay inside the next
    # layer's grid; uniform grids (grid_eps=1) keep the fast closed-form B-spline path (adaptive knots
    # cost 10x). LBFGS keeps train_lbfgs's default tolerances, not the float64 ones of the paper fits.
    return grow_kan(
        data.x_train,
        data.y_train,
        widths,
        grids,
        steps,
        seed=seed,
        restarts=restarts,
        grid_eps=1.0,
        update_grid_each_stage=True,
        tolerances={},
    )
