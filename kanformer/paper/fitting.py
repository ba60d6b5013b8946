"""Function fitting with grid extension: the KAN paper's toy examples.

from kanformer.paper.fitting import fit_function
stages = fit_function("exp(sin(pi*x)+y^2)", widths=[2, 5, 1], grids=(3, 5, 10))

:func:`fit_kan` runs the grid-extension loop (:func:`kanformer.fitting.grow_kan`) on any data and
measures each grid; :func:`fit_function` samples one of :data:`PAPER_FUNCTIONS` and runs it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.special
import torch
from torch import Tensor

from ..fitting import grow_kan, lbfgs_tolerances, param_count, rmse, train_lbfgs
from ..layers import KAN

# train_lbfgs, lbfgs_tolerances, rmse and param_count live in kanformer.fitting, re-exported for the paper code.
__all__ = [
    "PAPER_FUNCTIONS",
    "PAPER_GRIDS",
    "FitStage",
    "fit_function",
    "fit_kan",
    "lbfgs_tolerances",
    "paper_data",
    "param_count",
    "rmse",
    "sample",
    "train_lbfgs",
]


def _bessel(x: Tensor) -> Tensor:
    # scipy's J0 (the paper's target); torch.special.bessel_j0 differs from it in the last bits.
    return torch.from_numpy(scipy.special.j0(20 * x[:, 0].detach().cpu().numpy().astype(np.float64)))


#: name -> (input dimension, f: (N, dim) -> (N,)), inputs uniform on [-1, 1]^dim.
PAPER_FUNCTIONS: dict[str, tuple[int, Callable[[Tensor], Tensor]]] = {
    "J0(20x)": (1, _bessel),
    "exp(sin(pi*x)+y^2)": (2, lambda x: torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2)),
    "x*y": (2, lambda x: x[:, 0] * x[:, 1]),
    "exp(mean(sin^2(pi*x_i/2)), 100d)": (
        100,
        lambda x: torch.exp(torch.sin(math.pi * x / 2).pow(2).mean(1)),
    ),
    "exp((sin(pi(x1^2+x2^2))+sin(pi(x3^2+x4^2)))/2)": (
        4,
        lambda x: torch.exp(
            (torch.sin(math.pi * (x[:, 0] ** 2 + x[:, 1] ** 2)) + torch.sin(math.pi * (x[:, 2] ** 2 + x[:, 3] ** 2)))
            / 2
        ),
    ),
}

#: The paper's grid-extension schedule (intervals per grid).
PAPER_GRIDS: tuple[int, ...] = (3, 5, 10, 20, 50, 100, 200, 500, 1000)


@dataclass
class FitStage:
    grid_size: int
    params: int
    train_rmse: float
    test_rmse: float
    seconds: float


def sample(name: str, n: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """(n, dim) inputs uniform on [-1, 1]^dim and (n, 1) targets of a paper function, in ``dtype``.

    Targets are computed in float64 from the rounded inputs, so they are exact to ``dtype``.
    """
    if name not in PAPER_FUNCTIONS:
        raise ValueError(f"function {name!r} is not known; choose one of {list(PAPER_FUNCTIONS)}")
    dim, fn = PAPER_FUNCTIONS[name]
    x = torch.rand(n, dim, generator=generator, dtype=torch.float64).to(dtype) * 2 - 1
    return x, fn(x.double()).to(dtype).unsqueeze(1)


def fit_kan(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    widths: Sequence[int],
    grids: Sequence[int] = (3, 5, 10),
    steps_per_grid: int = 10,
    seed: int = 0,
    on_stage: Callable[[FitStage, KAN], None] | None = None,
    restarts: int = 1,
    grid_updates: int = 0,
    grid_updates_until: int = 20,
    **layer_kwargs: object,
) -> list[FitStage]:
    """Fit a KAN to (x_train (N, d), y_train (N, 1)) with :func:`kanformer.fitting.grow_kan` and
    measure it after each grid: one :class:`FitStage` per grid size.

    The grid follows the data once before the first stage. ``restarts``, ``grid_updates`` and
    ``grid_updates_until`` are grow_kan's (hidden activations drift while training and can leave,
    or crowd into a corner of, the grid they started on); LBFGS tolerances follow the dtype.
    ``on_stage(stage, model)`` sees the model after each stage (extra evaluations, progress).
    """
    start = time.perf_counter()
    stages: list[FitStage] = []

    def record(grid: int, model: KAN) -> None:
        stage = FitStage(
            grid_size=grid,
            params=param_count(model),
            train_rmse=rmse(model, x_train, y_train),
            test_rmse=rmse(model, x_test, y_test),
            seconds=time.perf_counter() - start,
        )
        stages.append(stage)
        if on_stage is not None:
            on_stage(stage, model)

    grow_kan(
        x_train,
        y_train,
        widths,
        grids,
        steps_per_grid,
        seed=seed,
        restarts=restarts,
        grid_updates=grid_updates,
        grid_updates_until=grid_updates_until,
        on_stage=record,
        **layer_kwargs,
    )
    return stages


def fit_function(
    name: str,
    widths: Sequence[int] = (2, 5, 1),
    grids: Sequence[int] = (3, 5, 10),
    steps_per_grid: int = 10,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    on_stage: Callable[[FitStage, KAN], None] | None = None,
    **layer_kwargs: object,
) -> list[FitStage]:
    """Fit a KAN to a paper function with grid extension (:func:`fit_kan` on fresh samples).

    Train and test sets are drawn from one generator seeded with ``seed`` (train first),
    so :func:`paper_data` with the same arguments gives the same points.
    """
    x_train, y_train, x_test, y_test = paper_data(name, n_train, n_test, seed, dtype)
    if widths[0] != x_train.shape[1]:
        raise ValueError(f"widths[0]={widths[0]} does not match the input dimension {x_train.shape[1]} of {name!r}")
    return fit_kan(x_train, y_train, x_test, y_test, widths, grids, steps_per_grid, seed, on_stage, **layer_kwargs)


def paper_data(
    name: str, n_train: int, n_test: int, seed: int = 0, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """x_train (n_train, d), y_train (n_train, 1), x_test (n_test, d), y_test (n_test, 1) of a paper function."""
    gen = torch.Generator().manual_seed(seed)
    x_train, y_train = sample(name, n_train, gen, dtype)
    x_test, y_test = sample(name, n_test, gen, dtype)
    return x_train, y_train, x_test, y_test
