"""Train a KAN on one of the KAN paper's toy functions, for symbolic regression (``kanformer symbolic``).

data = paper_data("exp(sin(pi*x)+y^2)")
kan = train_kan(data, [2, 1, 1])    # float64, LBFGS with grid extension, best of several starts
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..layers import KAN
from ..paper.fitting import PAPER_FUNCTIONS, sample, train_lbfgs


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


def _first_stage(data: PaperData, widths: Sequence[int], grid: int, steps: int, seed: int) -> KAN:
    torch.manual_seed(seed)
    model = KAN(list(widths), grid_size=grid).double()
    _stage(model, data, steps)
    return model


def _stage(model: KAN, data: PaperData, steps: int) -> None:
    # Grids follow the data before each stage, so hidden activations that drifted stay inside the next
    # layer's grid; uniform grids (grid_eps=1) keep the fast closed-form B-spline path (adaptive knots cost 10x).
    model.update_grid(data.x_train, grid_eps=1.0)
    train_lbfgs(model, data.x_train, data.y_train, steps)


def _train_mse(model: KAN, data: PaperData) -> float:
    with torch.no_grad():
        return (model(data.x_train) - data.y_train).square().mean().item()


def train_kan(
    data: PaperData,
    widths: Sequence[int],
    grids: Sequence[int] = (3, 5, 10, 20),
    steps: int = 10,
    seed: int = 0,
    restarts: int = 5,
) -> KAN:
    """A float64 KAN trained with LBFGS (``steps`` x 20 iterations per grid) and grid extension.

    Narrow KANs such as [2, 1, 1] often stall in a local minimum (about half of the
    initialisations for exp(sin(pi x) + y^2)), so the first stage is run from
    ``restarts`` initialisations (seeds seed, seed + 1, ...) and the best on the
    training data continues through the finer grids.
    """
    if widths[0] != data.x_train.shape[1]:
        raise ValueError(f"widths[0]={widths[0]} does not match the input dimension {data.x_train.shape[1]}")
    if not grids or any(g < 1 for g in grids):
        raise ValueError(f"grids={list(grids)} is invalid: give grid sizes >= 1, e.g. 3 5 10 20")
    if restarts < 1:
        raise ValueError(f"restarts={restarts} is invalid: give an integer >= 1")
    starts = [_first_stage(data, widths, grids[0], steps, seed + r) for r in range(restarts)]
    model = min(starts, key=lambda m: _train_mse(m, data))
    for size in grids[1:]:
        model.extend_grid(size)
        _stage(model, data, steps)  # a fresh optimiser: extension replaces parameters
    return model
